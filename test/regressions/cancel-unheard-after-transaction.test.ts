/**
 * Regression: a run that never heard a cancel's notification learnt of it at its next record
 * write in the system database, but a transaction records in the app database, whose commit did
 * not see the cancel: after a transaction that committed once the cancel was made, the run
 * started one more operation (here a communicator, which called out). Now the cancel also marks
 * the workflow's fence row in the app database, under the system rows' locks, and the statement
 * that commits a transaction returns the mark; a resume clears it.
 *
 * Nothing listens here (notifications: poll, one poll a minute): no cancel is heard but by its
 * record. The first workflow's transaction is its first (no fence row when the cancel lands), the
 * second's follows one that committed before.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Communicator, Transaction, Workflow, type CommunicatorContext, type TransactionContext, type WorkflowContext } from '@operon/sdk';
import { cancelWorkflows, resumeWorkflows, type OperonRuntime } from '@operon/runtime';
import { markCancelled } from '../../packages/runtime/src/system-db/transaction-outputs.js';
import { connectTo, query, startRuntime, testConfig } from '../helpers/test-databases.js';
import { outcomeOf } from '../helpers/workflow-outcome.js';
import { workflowLatches } from '../helpers/workflow-latches.js';

const after = new Map<string, number>();
const latches = workflowLatches();
const latch = latches.of;

class Books {
  @Transaction()
  static async entry(ctx: TransactionContext, n: number, gated: boolean): Promise<number> {
    if (gated) {
      latch(ctx.workflowUUID).arrive();
      await latch(ctx.workflowUUID).released;
    }
    const { rows } = await ctx.client.query<{ v: number }>('SELECT $1::int * 10 AS v', [n]);
    return rows[0]!.v;
  }

  @Communicator()
  static async next(ctx: CommunicatorContext): Promise<string> {
    after.set(ctx.workflowUUID, (after.get(ctx.workflowUUID) ?? 0) + 1);
    return 'next';
  }

  @Workflow()
  static async first(ctx: WorkflowContext): Promise<unknown[]> {
    return [await ctx.invoke(Books).entry(1, true), await ctx.invoke(Books).next()];
  }

  @Workflow()
  static async second(ctx: WorkflowContext): Promise<unknown[]> {
    return [await ctx.invoke(Books).entry(1, false), await ctx.invoke(Books).entry(2, true), await ctx.invoke(Books).next()];
  }
}

let runtime: OperonRuntime;
let sysDb: string;
let appDb: string;

beforeAll(async () => {
  const config = testConfig('cancel_after_txn', { database: { notifications: 'poll', pollIntervalMs: 60_000 } });
  sysDb = config.database.system_database;
  appDb = config.database.user_database;
  runtime = await startRuntime([Books], config);
});

afterAll(async () => {
  latches.releaseAll();
  await runtime?.destroy({ timeoutMs: 1000 });
});

const outcome = (uuid: string) => outcomeOf(runtime, uuid, 5_000);

describe('a cancel unheard while a transaction is in flight', () => {
  it('stops the run once that transaction has committed: the next operation never starts; a resume goes on after it', async () => {
    const { systemPool, appPool } = runtime.systemDb;
    for (const [uuid, start, result, gatedId] of [
      ['txn-first', () => runtime.client.invoke(Books, { workflowUUID: 'txn-first' }).first(), [10, 'next'], 0],
      ['txn-second', () => runtime.client.invoke(Books, { workflowUUID: 'txn-second' }).second(), [10, 20, 'next'], 1],
    ] as const) {
      await start();
      await latch(uuid).reached;
      expect(await cancelWorkflows(systemPool, { workflowUUID: uuid }, { actor: 'test' }, { appPool })).toMatchObject({ changed: 1 });
      latch(uuid).release();
      expect(await outcome(uuid)).toBe('cancelled');
      // The transaction in flight committed and recorded; nothing after it ran.
      expect(await query(appDb, 'SELECT function_id FROM operon.transaction_outputs WHERE workflow_uuid = $1 ORDER BY 1', [uuid])).toEqual(
        Array.from({ length: gatedId + 1 }, (_, i) => ({ function_id: i })),
      );
      expect(after.get(uuid)).toBeUndefined();

      const resumed = await resumeWorkflows(systemPool, { workflowUUID: uuid }, { actor: 'test' }, { appPool });
      expect(resumed).toMatchObject({ changed: 1 });
      expect(await query(appDb, 'SELECT cancelled FROM operon.workflow_owners WHERE workflow_uuid = $1', [uuid])).toEqual([{ cancelled: false }]);
      await runtime.executor.adoptNow([resumed.handover!]);
      await expect(runtime.client.retrieveWorkflow(uuid).getResult()).resolves.toEqual(result);
      expect(after.get(uuid)).toBe(1);
      expect(await query(sysDb, `SELECT status FROM operon.workflow_status WHERE workflow_uuid = $1`, [uuid])).toEqual([{ status: 'SUCCESS' }]);
    }
  });

  it('waits, at a mark, for the cancel still committing; goes on past a mark whose cancel rolled back', async () => {
    for (const [uuid, ends] of [
      ['txn-committing', 'COMMIT'],
      ['txn-rolled-back', 'ROLLBACK'],
    ] as const) {
      await runtime.client.invoke(Books, { workflowUUID: uuid }).first();
      await latch(uuid).reached;
      // A cancel between its two writes: the app database marked, the system row changed and locked, not committed.
      const cancel = await connectTo(sysDb);
      try {
        await cancel.query('BEGIN');
        await cancel.query(`UPDATE operon.workflow_status SET status = 'CANCELLED' WHERE workflow_uuid = $1`, [uuid]);
        await markCancelled(runtime.systemDb.appPool, [uuid]);
        latch(uuid).release();
        for (let i = 0; i < 200 && (await query(appDb, 'SELECT 1 FROM operon.transaction_outputs WHERE workflow_uuid = $1', [uuid])).length === 0; i++) {
          await new Promise((resolve) => setTimeout(resolve, 25));
        }
        // Committed, and the run waits for the system database's answer before its next operation.
        await new Promise((resolve) => setTimeout(resolve, 300));
        expect(after.get(uuid)).toBeUndefined();
        await cancel.query(ends);
      } finally {
        await cancel.end();
      }
      if (ends === 'COMMIT') {
        expect(await outcome(uuid)).toBe('cancelled');
        expect(after.get(uuid)).toBeUndefined();
      } else {
        await expect(runtime.client.retrieveWorkflow(uuid).getResult()).resolves.toEqual([10, 'next']);
        expect(after.get(uuid)).toBe(1);
      }
    }
  });
});
