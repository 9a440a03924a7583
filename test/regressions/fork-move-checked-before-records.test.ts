/**
 * Regression: `fork --version` checked the original's records on the target code, then copied the
 * original's records as they were when the fork was made. A running original that recorded an
 * operation in between (here: while the fork waited for its UUID, held by an uncommitted start)
 * gave the moved fork a record the check never saw, and on the target code that record diverges.
 *
 * Expected: the records a moved fork copies are the ones checked: either the fork is made with
 * exactly those (its statement reads the original as of when it began, and creates nothing if that
 * is more than the check saw), or it answers 409 OPERON_ERR_VERSION_CHECK_DIVERGED and creates
 * nothing.
 */
import { expect, it } from 'vitest';
import { moveState, paymentsOf } from '../helpers/latched-payments-app.js';
import { usePaymentsMove } from '../helpers/payments-move.js';
import { connectTo } from '../helpers/test-databases.js';

const { config, sys, post, start } = usePaymentsMove('fork_move', 'a-token-for-the-fork-move-test');

it('a fork to another version copies only records its check saw', { timeout: 30_000 }, async () => {
  const { runtime, v2 } = await start();

  const handle = await runtime.client.invoke(paymentsOf(1), { workflowUUID: 'original' }).pay();
  await moveState().reached;
  // An uncommitted start holds the UUID while the original records `hold`.
  const holder = await connectTo(config.database.system_database);
  try {
    await holder.query('BEGIN');
    await holder.query(`INSERT INTO operon.workflow_status (workflow_uuid, status, workflow_name, executor_id, inputs, created_at, updated_at) VALUES ('moved', 'PENDING', 'Payments.pay', 'holder', '[]', 0, 0)`);
    const bodiesBefore = moveState().v2Bodies;
    const forked = post('/operon/workflows/original/fork', { fromStep: 5, workflowUUID: 'moved', version: v2.version });
    // The fork has checked (a v2 body replayed) or waits for the UUID's row, whichever it does first.
    const waitsForLock = async () =>
      (await sys(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`))[0].n > 0;
    for (let i = 0; i < 400 && moveState().v2Bodies === bodiesBefore && !(await waitsForLock()); i++) await new Promise((resolve) => setTimeout(resolve, 10));
    await new Promise((resolve) => setTimeout(resolve, 200));
    moveState().release();
    expect(await handle.getResult()).toBe('v1:held');
    await holder.query('ROLLBACK');
    const answer = await forked;
    if (answer.statusCode === 200) {
      // Made with the records its check saw (none): it runs on the target code from the start,
      // and its only record is its own charge, never the original's hold.
      await expect(runtime.client.retrieveWorkflow('moved').getResult()).resolves.toBe('v2:charged');
      expect(await sys(`SELECT function_id, function_name FROM operon.operation_outputs WHERE workflow_uuid = 'moved'`)).toEqual([{ function_id: 0, function_name: 'Payments.charge' }]);
    } else {
      expect(answer.statusCode).toBe(409);
      expect(answer.body).toMatch(/cannot move to version [0-9a-f]{16}: its records diverge/);
      expect(await sys(`SELECT 1 FROM operon.workflow_status WHERE workflow_uuid = 'moved'`)).toEqual([]);
    }
  } finally {
    await holder.end();
  }
});
