/**
 * catchUp after downtime. The only runtime ran a 5-second schedule, stopped, and the schedules
 * table is then put where it would be had it stopped two minutes before now (its last tick two
 * minutes back, the runs since gone): a restart then finds 24 missed ticks. `none` starts none
 * of them, `latest` the latest one, `all` every one, `all` with `maxCatchUp: 5` the latest five;
 * each then runs its next tick on time, and every run gets Dates.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Scheduled, Workflow, type WorkflowContext } from '@operon/sdk';
import { decodeStoredValue, type OperonRuntime } from '@operon/runtime';
import { query, startRuntime, testConfig } from '../helpers/test-databases.js';

const PERIOD_MS = 5_000;
const GAP_MS = 120_000;

async function tickRun(_ctx: WorkflowContext, scheduledTime: Date, startTime: Date) {
  return { dates: scheduledTime instanceof Date && startTime instanceof Date, scheduledTime: scheduledTime.toISOString() };
}

class Gap {
  @Scheduled({ crontab: '*/5 * * * * *' })
  @Workflow()
  static async none(ctx: WorkflowContext, scheduledTime: Date, startTime: Date) {
    return tickRun(ctx, scheduledTime, startTime);
  }
  @Scheduled({ crontab: '*/5 * * * * *', catchUp: 'latest' })
  @Workflow()
  static async latest(ctx: WorkflowContext, scheduledTime: Date, startTime: Date) {
    return tickRun(ctx, scheduledTime, startTime);
  }
  @Scheduled({ crontab: '*/5 * * * * *', catchUp: 'all' })
  @Workflow()
  static async all(ctx: WorkflowContext, scheduledTime: Date, startTime: Date) {
    return tickRun(ctx, scheduledTime, startTime);
  }
  @Scheduled({ crontab: '*/5 * * * * *', catchUp: 'all', maxCatchUp: 5 })
  @Workflow()
  static async capped(ctx: WorkflowContext, scheduledTime: Date, startTime: Date) {
    return tickRun(ctx, scheduledTime, startTime);
  }
}

const config = testConfig('sched_gap');
const sys = <R = any>(sql: string, values: unknown[] = []) => query<R>(config.database.system_database, sql, values);
let runtime: OperonRuntime | undefined;
afterAll(() => runtime?.destroy());

interface Run {
  tick: number;
  status: string;
  output: { dates: boolean; scheduledTime: string } | null;
}

async function runsOf(name: string): Promise<Run[]> {
  const rows = await sys<{ inputs: string; status: string; output: string | null }>(
    'SELECT inputs, status, output FROM operon.workflow_status WHERE workflow_name = $1',
    [`Gap.${name}`],
  );
  // Stored as Operon stores values: the inputs hold Dates, so they are not plain JSON.
  return rows.map((r) => ({
    tick: decodeStoredValue<[Date, Date]>(r.inputs)[0].getTime(),
    status: r.status,
    output: r.output === null ? null : decodeStoredValue<Run['output']>(r.output),
  }));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('catchUp after the only runtime was down two minutes', () => {
  it('none adds no run for the gap, latest one, all one per missed tick up to maxCatchUp; then each runs on time', async () => {
    // A first life: registers the schedules (and records where they are).
    runtime = await startRuntime([Gap], config);
    await runtime.destroy();
    runtime = undefined;
    expect((await sys('SELECT schedule_name FROM operon.schedules ORDER BY 1')).map((r) => r.schedule_name)).toEqual([
      'Gap.all',
      'Gap.capped',
      'Gap.latest',
      'Gap.none',
    ]);

    // Restart just after a tick, so the startup (well under 5 s) ends before the next one.
    await sleep(PERIOD_MS - (Date.now() % PERIOD_MS) + 200);
    const boundary = Date.now() - (Date.now() % PERIOD_MS);
    await sys("DELETE FROM operon.workflow_status WHERE workflow_name LIKE 'Gap.%'");
    await sys('UPDATE operon.schedules SET since = $1, last_tick = $1', [boundary - GAP_MS]);
    runtime = await startRuntime([Gap], config);
    expect(Date.now(), 'the restart took too long for this test').toBeLessThan(boundary + PERIOD_MS);

    const missed = (runs: Run[]) => runs.filter((r) => r.tick <= boundary).map((r) => r.tick).sort((a, b) => a - b);
    const ticksBack = (n: number) => Array.from({ length: n }, (_, i) => boundary - (n - 1 - i) * PERIOD_MS);
    expect(missed(await runsOf('none'))).toEqual([]);
    expect(missed(await runsOf('latest'))).toEqual([boundary]);
    expect(missed(await runsOf('all'))).toEqual(ticksBack(GAP_MS / PERIOD_MS));
    expect(missed(await runsOf('capped'))).toEqual(ticksBack(5));

    // The next tick runs on time for each, once.
    const next = boundary + PERIOD_MS;
    await sleep(next - Date.now() + 2_500);
    for (const name of ['none', 'latest', 'all', 'capped']) {
      const runs = await runsOf(name);
      expect(runs.filter((r) => r.tick === next), name).toHaveLength(1);
      expect(runs.filter((r) => r.tick > next), name).toEqual([]);
      for (const run of runs.filter((r) => r.status === 'SUCCESS')) {
        expect(run.output).toEqual({ dates: true, scheduledTime: new Date(run.tick).toISOString() });
      }
    }
  }, 60_000);
});
