/**
 * DST end to end, on a virtual workflow clock (no real waiting for the transition): a runtime whose
 * clock stands just before a transition is moved across it a second at a time, and the schedule's
 * runs are read from the system database. America/New_York, 2026: 02:30 does not exist on 03-08
 * (runs once at 03:00 EDT, 07:00Z); 01:30 happens twice on 11-01 (runs at the first, 05:30Z, only).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Scheduled, Workflow, type WorkflowContext } from '@operon/sdk';
import { OperonRuntime } from '@operon/runtime';
import { VirtualClock } from '../../packages/runtime/src/executor/virtual-clock.js';
import { createLogger } from '../../packages/runtime/src/logging.js';
import { query, testConfig } from '../helpers/test-databases.js';

class NewYork {
  @Scheduled({ crontab: '30 2 * * *', timezone: 'America/New_York' })
  @Workflow()
  static async skipped(_ctx: WorkflowContext, scheduledTime: Date, _startTime: Date): Promise<string> {
    return scheduledTime.toISOString();
  }
  @Scheduled({ crontab: '30 1 * * *', timezone: 'America/New_York' })
  @Workflow()
  static async repeated(_ctx: WorkflowContext, scheduledTime: Date, _startTime: Date): Promise<string> {
    return scheduledTime.toISOString();
  }
}

const config = testConfig('sched_dst');
let runtime: OperonRuntime | undefined;
afterAll(() => runtime?.destroy());

/** Runs a runtime on a virtual clock from `from` to `until`, firing its timers one by one; the ticks run, by schedule. */
async function runAcross(from: string, until: string): Promise<Record<string, string[]>> {
  const clock = new VirtualClock(Date.parse(from));
  runtime = await OperonRuntime.create({ config, classes: [NewYork], clock, logger: createLogger('warn') });
  await runtime.recover();
  const limit = Date.parse(until);
  // Each timer fired may send a statement: let it answer before the next (real time, briefly).
  while (clock.fireNext(limit)) await new Promise((resolve) => setTimeout(resolve, 30));
  await new Promise((resolve) => setTimeout(resolve, 300));
  await runtime.destroy();
  runtime = undefined;
  // A schedule's inputs are stored in format 2: the scheduled time is the value's first item, as ISO text.
  const rows = await query<{ workflow_name: string; tick: string }>(
    config.database.system_database,
    `SELECT workflow_name, inputs::json->'value'->>0 AS tick FROM operon.workflow_status
     WHERE created_at BETWEEN $1 AND $2 ORDER BY 2`,
    [Date.parse(from), limit],
  );
  const byName: Record<string, string[]> = {};
  for (const row of rows) (byName[row.workflow_name] ??= []).push(row.tick);
  return byName;
}

describe('DST through the virtual clock, America/New_York', () => {
  it('a skipped 02:30 runs once, at 03:00 EDT, on 2026-03-08', async () => {
    expect(await runAcross('2026-03-08T06:59:50Z', '2026-03-08T07:00:10Z')).toEqual({ 'NewYork.skipped': ['2026-03-08T07:00:00.000Z'] });
  });

  it('a repeated 01:30 runs at its first instant on 2026-11-01, and not at its second', async () => {
    expect(await runAcross('2026-11-01T05:29:50Z', '2026-11-01T05:30:10Z')).toEqual({ 'NewYork.repeated': ['2026-11-01T05:30:00.000Z'] });
    expect(await runAcross('2026-11-01T06:29:50Z', '2026-11-01T06:30:10Z')).toEqual({});
  });
});
