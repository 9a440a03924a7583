/**
 * Regression: a skewed host clock leaked into the scheduler. The database clock is the host's
 * until a heartbeat with a short round trip measures the offset, and on a loaded machine or
 * through a pooler the first one can be slower than that: the scheduler then started on a host
 * clock an hour ahead, started ticks an hour early (with a future scheduledTime) and pushed the
 * schedule's last tick an hour ahead for every executor after it. Now the schedules start only
 * once the clock has a trustworthy reading, and a clock stepped ahead later (between two
 * readings) starts no tick more than MAX_AHEAD_MS before the database's time.
 *
 * The runtime's database clock here reads a host clock an hour ahead, and its readings count as
 * slow (ignored) while the test says so.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Scheduled, Workflow, type WorkflowContext } from '@operon/sdk';
import { decodeStoredValue, MAX_AHEAD_MS, OperonRuntime } from '@operon/runtime';
import { DatabaseClock } from '../../packages/runtime/src/executor/database-clock.js';
import { createLogger } from '../../packages/runtime/src/logging.js';
import { query, testConfig } from '../helpers/test-databases.js';

const HOUR_MS = 3_600_000;

/** A database clock on a host clock `skewMs` ahead, whose readings are ignored while `slow`. */
class SkewedHostClock extends DatabaseClock {
  skewMs = HOUR_MS;
  slow = true;
  constructor() {
    super(() => Date.now() + this.skewMs);
  }
  override observe(databaseNowMs: number, sentAt: number, answeredAt: number): void {
    super.observe(databaseNowMs, sentAt, this.slow ? answeredAt + 1_000 : answeredAt);
  }
}

class Skewed {
  @Scheduled({ crontab: '* * * * * *', catchUp: 'all', maxCatchUp: 5 })
  @Workflow()
  static async tick(_ctx: WorkflowContext, scheduledTime: Date) {
    return scheduledTime.toISOString();
  }
}

const config = testConfig('sched_skew', { telemetry: { logs: { logLevel: 'error' } } });
const sys = <R = any>(sql: string, values: unknown[] = []) => query<R>(config.database.system_database, sql, values);
let runtime: OperonRuntime | undefined;
afterAll(() => runtime?.destroy());

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function ticks(): Promise<number[]> {
  const rows = await sys<{ inputs: string }>("SELECT inputs FROM operon.workflow_status WHERE workflow_name = 'Skewed.tick'");
  return rows.map((r) => decodeStoredValue<[Date, Date]>(r.inputs)[0].getTime()).sort((a, b) => a - b);
}

describe('a host clock an hour ahead', () => {
  it('starts no tick before the database time: not before a trusted reading, nor after a step ahead', async () => {
    const clock = new SkewedHostClock();
    runtime = await OperonRuntime.create({ config, classes: [Skewed], logger: createLogger('error'), clock });
    await runtime.recover();
    await sleep(2_000);
    expect(clock.trusted).toBe(false);
    expect(await ticks(), 'ticks started on the host clock').toEqual([]);
    expect(await sys('SELECT since FROM operon.schedules'), 'a schedule registered on the host clock').toEqual([]);

    // The readings come through: the schedule starts on the database's time.
    clock.slow = false;
    await sleep(3_000);
    expect(clock.trusted).toBe(true);
    const [{ since }] = await sys<{ since: string }>('SELECT since FROM operon.schedules');
    expect(Number(since)).toBeLessThanOrEqual(Date.now());
    const trusted = await ticks();
    expect(trusted.length).toBeGreaterThanOrEqual(2);
    expect(trusted.at(-1)!).toBeLessThanOrEqual(Date.now() + MAX_AHEAD_MS);

    // The host clock steps another hour ahead, and no reading corrects it for a while.
    clock.slow = true;
    clock.skewMs += HOUR_MS;
    const steppedAt = Date.now();
    await sleep(3_000);
    expect(clock.now() - Date.now()).toBeGreaterThan(HOUR_MS - 1_000);
    const stepped = (await ticks()).filter((tick) => tick > trusted.at(-1)!);
    expect(stepped.at(-1)!, 'a tick started ahead of the database').toBeLessThanOrEqual(Date.now() + MAX_AHEAD_MS);
    // The schedule goes on by the database's time meanwhile.
    expect(stepped.filter((tick) => tick > steppedAt).length).toBeGreaterThanOrEqual(2);
    const [{ last_tick }] = await sys<{ last_tick: string }>('SELECT last_tick FROM operon.schedules');
    expect(Number(last_tick)).toBeLessThanOrEqual(Date.now() + MAX_AHEAD_MS);
  }, 30_000);
});
