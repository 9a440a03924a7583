/**
 * Regression: a database outage bypassed catchUp. The ticks of a failed due-ticks statement were
 * all kept and sent again, and the ticks that fell due during the outage were never "late" (the
 * loop itself ran on time), so once the database answered every tick of the outage started at
 * once: a 60 s outage on a per-second `none` schedule gave 60 runs, and the retried list grew
 * with every second of it. Now the ticks kept for retry that are late by then follow the
 * schedule's catchUp like any missed tick, and a statement whose answer was lost just before the
 * outage still has its committed run reclaimed and run.
 *
 * Here the database is away about 5 s (under the 6 s lease) from a runtime with three per-second
 * schedules; the answer to the statement that started one of them is lost as the outage begins.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Scheduled, Workflow, type WorkflowContext } from '@operon/sdk';
import { decodeStoredValue, LATE_MS } from '@operon/runtime';
import { runtimeBehindProxy, type RuntimeBehindProxy } from '../helpers/cuttable-proxy.js';
import { query } from '../helpers/test-databases.js';

const OUTAGE_MS = 5_000;

class Outage {
  @Scheduled({ crontab: '* * * * * *' })
  @Workflow()
  static async none(_ctx: WorkflowContext, scheduledTime: Date) {
    return scheduledTime.toISOString();
  }
  @Scheduled({ crontab: '* * * * * *', catchUp: 'latest' })
  @Workflow()
  static async latest(_ctx: WorkflowContext, scheduledTime: Date) {
    return scheduledTime.toISOString();
  }
  /** The one whose statement's answer is lost. */
  @Scheduled({ crontab: '* * * * * *' })
  @Workflow()
  static async answerLost(_ctx: WorkflowContext, scheduledTime: Date) {
    return scheduledTime.toISOString();
  }
}

let setup: RuntimeBehindProxy | undefined;
afterAll(() => setup?.close());

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Run {
  readonly tick: number;
  readonly status: string;
}

async function runsOf(systemDatabase: string, name: string): Promise<Run[]> {
  const rows = await query<{ inputs: string; status: string }>(systemDatabase, 'SELECT inputs, status FROM operon.workflow_status WHERE workflow_name = $1', [`Outage.${name}`]);
  return rows.map((r) => ({ tick: decodeStoredValue<[Date, Date]>(r.inputs)[0].getTime(), status: r.status })).sort((a, b) => a.tick - b.tick);
}

describe('a database outage on per-second schedules', () => {
  it('starts the outage ticks by each schedule catchUp, and still runs the one whose answer was lost', async () => {
    setup = await runtimeBehindProxy([Outage], 'sched_outage');
    const { runtime, proxy } = setup;
    const systemDatabase = runtime.config.database.system_database;
    await sleep(1_500);

    // The next statement that carries this schedule's ticks commits; its answer is lost, and the database goes away.
    const lost = await proxy.loseNextCommitAnswer({ marker: 'Outage.answerLost', timeoutMs: 5_000 });
    proxy.cutAll();
    const cutAt = Date.now();
    expect(lost?.committed).toBe('autocommit');
    await sleep(OUTAGE_MS);
    proxy.restore();
    const restoredAt = Date.now();
    await sleep(3_500);

    // Every tick of the outage was already late (by LATE_MS) when the database came back.
    const lateTick = (run: Run) => run.tick > cutAt && run.tick <= restoredAt - LATE_MS;
    const lateTicks = Math.floor((restoredAt - LATE_MS) / 1000) - Math.floor(cutAt / 1000);
    expect(lateTicks, 'the outage is long enough to leave late ticks').toBeGreaterThanOrEqual(1);
    expect((await runsOf(systemDatabase, 'none')).filter(lateTick), 'none: no run for a late tick').toEqual([]);
    expect((await runsOf(systemDatabase, 'latest')).filter(lateTick).length, 'latest: at most one').toBeLessThanOrEqual(1);

    // The lost answer's run was committed before the outage: it is reclaimed and runs.
    const stillPending = async () =>
      (await query(systemDatabase, "SELECT workflow_uuid FROM operon.workflow_status WHERE workflow_name LIKE 'Outage.%' AND status = 'PENDING' AND created_at < $1", [restoredAt])).length;
    for (let i = 0; i < 50 && (await stillPending()) > 0; i++) await sleep(100);
    expect(await stillPending(), 'runs started before the database came back and never run').toBe(0);
    const answerLost = await runsOf(systemDatabase, 'answerLost');
    const lostTick = answerLost.filter((run) => run.tick <= cutAt).at(-1);
    expect(lostTick?.status).toBe('SUCCESS');

    // Afterwards each schedule goes on: one run a tick.
    const after = (run: Run) => run.tick >= restoredAt + 1_000 && run.tick <= restoredAt + 3_000;
    for (const name of ['none', 'latest', 'answerLost']) {
      const ticks = (await runsOf(systemDatabase, name)).filter(after).map((run) => run.tick);
      expect(ticks.length, name).toBeGreaterThanOrEqual(2);
      expect(new Set(ticks).size, name).toBe(ticks.length);
    }
  }, 40_000);
});
