/**
 * catchUp after downtime. The only runtime registered a 5-second schedule and stopped; it starts
 * again two minutes later and finds 24 missed ticks. `none` starts none of them, `latest` the
 * latest one, `all` every one, `all` with `maxCatchUp: 5` the latest five; each then runs its
 * next tick on time, and every run gets Dates. Both lives run on a virtual workflow clock, so the
 * two minutes and the wait for the next tick take no real time.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Scheduled, Workflow, type WorkflowContext } from '@operon/sdk';
import { decodeStoredValue, OperonRuntime } from '@operon/runtime';
import { VirtualClock } from '../../packages/runtime/src/executor/virtual-clock.js';
import { createLogger } from '../../packages/runtime/src/logging.js';
import { query, testConfig } from '../helpers/test-databases.js';

const PERIOD_MS = 5_000;
const GAP_MS = 120_000;
/** The tick just before the restart (virtual time). */
const BOUNDARY = Date.parse('2026-06-01T12:00:00.000Z');

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

async function startAt(clock: VirtualClock): Promise<OperonRuntime> {
  const started = await OperonRuntime.create({ config, classes: [Gap], clock, logger: createLogger('warn') });
  await started.recover();
  return started;
}

describe('catchUp after the only runtime was down two minutes', () => {
  it('none adds no run for the gap, latest one, all one per missed tick up to maxCatchUp; then each runs on time', async () => {
    // A first life, two minutes before the restart: registers the schedules (since then).
    runtime = await startAt(new VirtualClock(BOUNDARY - GAP_MS));
    await runtime.destroy();
    runtime = undefined;
    expect((await sys('SELECT schedule_name FROM operon.schedules ORDER BY 1')).map((r) => r.schedule_name)).toEqual([
      'Gap.all',
      'Gap.capped',
      'Gap.latest',
      'Gap.none',
    ]);
    expect(await sys("SELECT workflow_uuid FROM operon.workflow_status WHERE workflow_name LIKE 'Gap.%'")).toEqual([]);

    // The restart, just after a tick.
    const clock = new VirtualClock(BOUNDARY + 200);
    runtime = await startAt(clock);
    const missed = (runs: Run[]) => runs.filter((r) => r.tick <= BOUNDARY).map((r) => r.tick).sort((a, b) => a - b);
    const ticksBack = (n: number) => Array.from({ length: n }, (_, i) => BOUNDARY - (n - 1 - i) * PERIOD_MS);
    expect(missed(await runsOf('none'))).toEqual([]);
    expect(missed(await runsOf('latest'))).toEqual([BOUNDARY]);
    expect(missed(await runsOf('all'))).toEqual(ticksBack(GAP_MS / PERIOD_MS));
    expect(missed(await runsOf('capped'))).toEqual(ticksBack(5));

    // The next tick runs on time for each, once: the clock's timers fired one by one up to 2.5 s past it.
    const next = BOUNDARY + PERIOD_MS;
    while (clock.fireNext(next + 2_500)) await sleep(30);
    clock.moveTo(next + 2_500);
    const settled = async () => (await sys("SELECT 1 FROM operon.workflow_status WHERE workflow_name LIKE 'Gap.%' AND status = 'PENDING'")).length === 0;
    for (let i = 0; i < 100 && !(await settled()); i++) await sleep(50);
    for (const name of ['none', 'latest', 'all', 'capped']) {
      const runs = await runsOf(name);
      expect(runs.filter((r) => r.tick === next), name).toHaveLength(1);
      expect(runs.filter((r) => r.tick > next), name).toEqual([]);
      for (const run of runs) {
        expect(run.status, name).toBe('SUCCESS');
        expect(run.output).toEqual({ dates: true, scheduledTime: new Date(run.tick).toISOString() });
      }
    }
  }, 60_000);
});
