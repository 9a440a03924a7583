/**
 * A sweep cut off right after its statement committed (the answer lost with the connection)
 * leaves nothing behind for good: the statement noted the workflows it deleted, and the next
 * sweep deletes their transaction outputs and fence rows in the app database. Before, those
 * stayed for ever, and a workflow started later under the same UUID met the old one's fence row.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Transaction, Workflow, type TransactionContext, type WorkflowContext } from '@operon/sdk';
import { RetentionSweeper } from '../../packages/runtime/src/management/retention-sweeper.js';
import { runtimeBehindProxy, type RuntimeBehindProxy } from '../helpers/cuttable-proxy.js';
import { query } from '../helpers/test-databases.js';

class Cut {
  @Transaction()
  static async note(ctx: TransactionContext, text: string): Promise<string> {
    const { rows } = await ctx.client.query<{ t: string }>('SELECT upper($1) AS t', [text]);
    return rows[0]!.t;
  }

  @Workflow()
  static async once(ctx: WorkflowContext, text: string): Promise<string> {
    return ctx.invoke(Cut).note(text);
  }
}

const DAY_MS = 86_400_000;
let behind: RuntimeBehindProxy;

beforeAll(async () => {
  behind = await runtimeBehindProxy([Cut], 'retention_cut');
});

afterAll(async () => {
  await behind?.close();
});

it('deletes at the next sweep the app records of workflows a sweep deleted before its answer was lost', async () => {
  const { runtime, proxy } = behind;
  const sys = runtime.config.database.system_database;
  const app = runtime.config.database.user_database;
  const appRows = async () =>
    (await query(app, `SELECT (SELECT count(*) FROM operon.transaction_outputs WHERE workflow_uuid = 'cut-1')::int + (SELECT count(*) FROM operon.workflow_owners WHERE workflow_uuid = 'cut-1')::int AS n`))[0].n;
  expect(await (await runtime.client.invoke(Cut, { workflowUUID: 'cut-1' }).once('first')).getResult()).toBe('FIRST');
  await query(sys, `UPDATE operon.workflow_status SET created_at = created_at - $1, updated_at = updated_at - $1 WHERE workflow_uuid = 'cut-1'`, [3 * DAY_MS]);
  expect(await appRows()).toBe(2);
  const sweeper = new RetentionSweeper(runtime.systemDb, runtime.executor.deps.clock, runtime.logger, { retentionDays: 2, pauseMs: 0 });
  try {
    const cut = proxy.loseNextCommitAnswer({ marker: 'operon_retention_delete_families' });
    await expect(sweeper.sweep()).rejects.toThrow();
    expect(await cut).toMatchObject({ committed: 'autocommit' });
    // The statement committed: the workflow is gone from the system database, its app records not yet.
    expect(await query(sys, `SELECT 1 FROM operon.workflow_status WHERE workflow_uuid = 'cut-1'`)).toEqual([]);
    expect(await appRows()).toBe(2);
    expect(await sweeper.sweep()).toBe(0);
  } finally {
    await sweeper.stop();
  }
  expect(await appRows()).toBe(0);
  expect(await query(sys, 'SELECT workflow_uuid FROM operon.retention_leftovers')).toEqual([]);
  // The UUID taken again: the new workflow's transaction commits under a fence of its own.
  expect(await (await runtime.client.invoke(Cut, { workflowUUID: 'cut-1' }).once('second')).getResult()).toBe('SECOND');
});
