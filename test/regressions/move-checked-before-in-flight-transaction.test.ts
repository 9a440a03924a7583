/**
 * Regression: `resume --version` checked the cancelled workflow again only when the system
 * database held more of its records than the check had seen. A transaction records in the app
 * database: the cancelled run's transaction in flight committed there while the resume waited for
 * the run to let go, the system database's count did not change, and the resume moved the
 * workflow onto code whose first operation is another function (a non-determinism error in its
 * run), though a move is meant to happen only when the records agree with that code.
 *
 * Expected: the move counts the workflow's transaction outputs too, behind a fence that lets no
 * transaction of an earlier run commit after the count; here it answers 409
 * OPERON_ERR_VERSION_CHECK_DIVERGED and the workflow stays CANCELLED on v1. Resumed without a
 * version it goes on on v1 past the recorded transaction.
 */
import { expect, it } from 'vitest';
import { OperonWorkflowCancelledError } from '@operon/sdk';
import { moveState, paymentsOf } from '../helpers/latched-payments-app.js';
import { usePaymentsMove } from '../helpers/payments-move.js';
import { query } from '../helpers/test-databases.js';

const scene = usePaymentsMove('move_in_flight_tx', 'a-token-for-the-move-in-flight-transaction-test');
const { sys, config } = scene;
const app = (text: string, values: unknown[] = []) => query(config.database.user_database, text, values);

it('a resume to another version checks the transaction the cancelled run committed while the resume waited', { timeout: 30_000 }, async () => {
  const { runtime, v1, v2 } = await scene.start();
  const post = async (url: string, payload?: object) => {
    const response = await scene.post(url, payload);
    return { status: response.statusCode, body: response.json() as any };
  };

  const handle = await runtime.client.invoke(paymentsOf(1), { workflowUUID: 'move-tx-1' }).payInTransaction();
  await moveState().reached;
  expect((await post('/operon/workflows/move-tx-1/cancel')).body.changed).toBe(1);

  // The resume checks v2 against the records so far (none) and waits for the transaction in flight.
  const resumed = post('/operon/workflows/move-tx-1/resume', { version: v2.version });
  for (let i = 0; i < 400 && moveState().v2Bodies === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  expect(moveState().v2Bodies).toBeGreaterThan(0);
  await new Promise((resolve) => setTimeout(resolve, 200));
  moveState().release();
  await expect(handle.getResult()).rejects.toBeInstanceOf(OperonWorkflowCancelledError);
  expect(await app(`SELECT function_name FROM operon.transaction_outputs WHERE workflow_uuid = 'move-tx-1'`)).toEqual([{ function_name: 'Payments.holdInTransaction' }]);
  expect(await sys(`SELECT count(*)::int AS n FROM operon.operation_outputs WHERE workflow_uuid = 'move-tx-1'`)).toEqual([{ n: 0 }]);

  const answer = await resumed;
  expect(answer.status).toBe(409);
  expect(JSON.stringify(answer.body)).toMatch(/cannot move to version [0-9a-f]{16}: its records diverge/);
  const [row] = await sys(`SELECT status, version FROM operon.workflow_status WHERE workflow_uuid = 'move-tx-1'`);
  expect(row).toEqual({ status: 'CANCELLED', version: v1.version });

  // The fence the refused move left stops nothing: resumed on its own version it goes on past its record.
  expect((await post('/operon/workflows/move-tx-1/resume')).status).toBe(200);
  await expect(runtime.client.retrieveWorkflow<string>('move-tx-1').getResult()).resolves.toBe('v1:held');
});
