/**
 * Regression: `resume --version` checked the cancelled workflow's records on the new code before
 * the resume waited for the cancelled run to finish its communicator in flight. That call then
 * recorded an operation the check never saw, and the resume moved the workflow anyway: on the new
 * code the recorded operation diverges (the workflow ends in a non-determinism error), though the
 * move is meant to happen only when the records agree with that code.
 *
 * Expected: the move is checked on the records as they are when the resume changes the workflow;
 * here it answers 409 OPERON_ERR_VERSION_CHECK_DIVERGED and the workflow stays CANCELLED on v1.
 */
import { expect, it } from 'vitest';
import { OperonWorkflowCancelledError } from '@operon/sdk';
import { moveState, paymentsOf } from '../helpers/latched-payments-app.js';
import { usePaymentsMove } from '../helpers/payments-move.js';

const scene = usePaymentsMove('move_in_flight', 'a-token-for-the-move-in-flight-test');
const { sys } = scene;

it('a resume to another version checks the operation the cancelled run recorded while the resume waited', { timeout: 30_000 }, async () => {
  const { runtime, v1, v2 } = await scene.start();
  const post = async (url: string, payload?: object) => {
    const response = await scene.post(url, payload);
    return { status: response.statusCode, body: response.json() as any };
  };

  const handle = await runtime.client.invoke(paymentsOf(1), { workflowUUID: 'move-1' }).pay();
  await moveState().reached;
  expect((await post('/operon/workflows/move-1/cancel')).body.changed).toBe(1);
  await expect(handle.getResult()).rejects.toBeInstanceOf(OperonWorkflowCancelledError);

  // The resume checks v2 against the records so far (none) and waits for `hold` to record.
  const resumed = post('/operon/workflows/move-1/resume', { version: v2.version });
  for (let i = 0; i < 400 && moveState().v2Bodies === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  expect(moveState().v2Bodies).toBeGreaterThan(0);
  await new Promise((resolve) => setTimeout(resolve, 200));
  moveState().release();

  const answer = await resumed;
  expect(answer.status).toBe(409);
  expect(JSON.stringify(answer.body)).toMatch(/cannot move to version [0-9a-f]{16}: its records diverge/);
  const [row] = await sys(`SELECT status, version FROM operon.workflow_status WHERE workflow_uuid = 'move-1'`);
  expect(row).toEqual({ status: 'CANCELLED', version: v1.version });
});
