/**
 * Regression: a host clock that stepped ahead and was then corrected stalled every schedule for
 * as long as the step. The scheduler spaced its statements by the clock's time of the last one;
 * sent while the clock read an hour ahead, that time stayed an hour ahead once the next reading
 * set the clock right, and the loop waited for it: no tick for an hour. Now the wait between two
 * statements is never more than a second, whichever way the clock moved.
 *
 * Likewise a host clock stepped back (and not set right, its readings being slow) stopped the
 * schedules until it caught up again, and the ticks meanwhile were then missed ones: now the
 * schedules go by the database's time when the clock is behind it too.
 *
 * The runtime's database clock reads a host clock that steps an hour ahead for a few seconds
 * (its readings ignored meanwhile, as slow ones are), then the readings set it right again.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Scheduled, Workflow, type WorkflowContext } from '@operon/sdk';
import { decodeStoredValue, MAX_AHEAD_MS, OperonRuntime } from '@operon/runtime';
import { DatabaseClock } from '../../packages/runtime/src/executor/database-clock.js';
import { createLogger } from '../../packages/runtime/src/logging.js';
import { query, testConfig } from '../helpers/test-databases.js';

const HOUR_MS = 3_600_000;

/** A database clock on a host clock `skewMs` ahead, whose readings are ignored while `slow`. */
class SteppingHostClock extends DatabaseClock {
  skewMs = 0;
  slow = false;
  constructor() {
    super(() => Date.now() + this.skewMs);
  }
  override observe(databaseNowMs: number, sentAt: number, answeredAt: number): void {
    super.observe(databaseNowMs, sentAt, this.slow ? answeredAt + 1_000 : answeredAt);
  }
}

class Corrected {
  @Scheduled({ crontab: '* * * * * *' })
  @Workflow()
  static async tick(_ctx: WorkflowContext, scheduledTime: Date) {
    return scheduledTime.toISOString();
  }
}

const config = testConfig('sched_corrected', { telemetry: { logs: { logLevel: 'error' } } });
let runtime: OperonRuntime | undefined;
afterAll(() => runtime?.destroy());

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function ticks(): Promise<number[]> {
  const rows = await query<{ inputs: string }>(config.database.system_database, "SELECT inputs FROM operon.workflow_status WHERE workflow_name = 'Corrected.tick'");
  return rows.map((r) => decodeStoredValue<[Date, Date]>(r.inputs)[0].getTime()).sort((a, b) => a - b);
}

describe('a host clock stepped ahead or back', () => {
  const clock = new SteppingHostClock();
  it('goes on ticking once the clock is right again', async () => {
    runtime = await OperonRuntime.create({ config, classes: [Corrected], logger: createLogger('error'), clock });
    await runtime.recover();
    await sleep(2_500);
    expect((await ticks()).length, 'ticks before the step').toBeGreaterThanOrEqual(1);

    clock.slow = true;
    clock.skewMs = HOUR_MS;
    await sleep(2_500);
    clock.slow = false;
    // The next heartbeat (every 2 s) measures the offset again.
    for (let i = 0; i < 50 && clock.now() - Date.now() > 1_000; i++) await sleep(100);
    expect(Math.abs(clock.now() - Date.now()), 'the clock is right again').toBeLessThan(1_000);
    const correctedAt = Date.now();
    await sleep(4_000);
    // Ticks up to MAX_AHEAD_MS past the database's time may have started before the correction.
    const after = (await ticks()).filter((tick) => tick > correctedAt + MAX_AHEAD_MS);
    expect(after.length, 'ticks after the clock was set right').toBeGreaterThanOrEqual(2);
  }, 30_000);

  it('goes on ticking by the database time while the host clock is set an hour back', async () => {
    clock.slow = true;
    clock.skewMs = -HOUR_MS;
    const steppedAt = Date.now();
    await sleep(4_000);
    expect(Date.now() - clock.now(), 'the clock is still an hour behind').toBeGreaterThan(HOUR_MS - 1_000);
    const during = (await ticks()).filter((tick) => tick > steppedAt + MAX_AHEAD_MS);
    expect(during.length, 'ticks while the host clock was behind').toBeGreaterThanOrEqual(2);
    clock.slow = false;
  }, 30_000);
});
