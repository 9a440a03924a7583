/**
 * Regression: `fork --version` checked the original's records again only when the system database
 * held more of them than the check had seen. A running original whose transaction committed in
 * the app database between the check and the fork's statement (here: while the check replayed the
 * target code) left the fork with a record nobody checked or copied: the fork of a workflow that
 * had recorded its first operation kept nothing of it and ran it anew on the target code.
 *
 * Expected: the moved fork's statement commits only when the original's transaction outputs, read
 * again after it, are the ones read before the check; otherwise it is checked again on them,
 * here answering 409 OPERON_ERR_VERSION_CHECK_DIVERGED and creating nothing.
 */
import { expect, it } from 'vitest';
import { moveState, paymentsOf } from '../helpers/latched-payments-app.js';
import { usePaymentsMove } from '../helpers/payments-move.js';
import { query } from '../helpers/test-databases.js';

const scene = usePaymentsMove('fork_move_tx', 'a-token-for-the-fork-move-transaction-test');
const { sys, config } = scene;
const app = (text: string, values: unknown[] = []) => query(config.database.user_database, text, values);

it('a fork to another version checks the transaction the original committed during the check', { timeout: 30_000 }, async () => {
  const { runtime, v2 } = await scene.start();

  const original = await runtime.client.invoke(paymentsOf(1), { workflowUUID: 'fork-tx-original' }).payInTransaction();
  await moveState().reached;
  // The check's first replay, having counted no record, lets the original's transaction commit.
  moveState().onV2Body = async () => {
    moveState().onV2Body = undefined;
    moveState().release();
    for (let i = 0; i < 500; i++) {
      if ((await app(`SELECT 1 FROM operon.transaction_outputs WHERE workflow_uuid = 'fork-tx-original'`)).length > 0) return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error('the original never committed its transaction');
  };

  const response = await scene.post('/operon/workflows/fork-tx-original/fork', { fromStep: 1, version: v2.version, workflowUUID: 'fork-tx-fork' });
  expect(moveState().v2Bodies).toBe(2);
  expect(response.statusCode).toBe(409);
  expect(response.body).toMatch(/cannot move to version [0-9a-f]{16}: its records diverge from that code: operation 0: the code calls Payments.charge, but the record is of Payments.holdInTransaction/);
  expect(await sys(`SELECT workflow_uuid FROM operon.workflow_status ORDER BY workflow_uuid`)).toEqual([{ workflow_uuid: 'fork-tx-original' }]);
  await expect(original.getResult()).resolves.toBe('v1:held');
});
