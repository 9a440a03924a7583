/**
 * Regression: two resumes of one cancelled workflow made at once both passed the status check;
 * the row lock let one change it and the other change nothing, yet the loser still answered
 * 200 `{ changed: 0 }`, wrote an audit entry saying it resumed the workflow and left an empty
 * handover executor row behind.
 *
 * Expected: the loser answers 409 naming the workflow and writes neither.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Workflow, type WorkflowContext } from '@operon/sdk';
import { OperonManagementConflictError, cancelWorkflows, resumeWorkflows, type OperonRuntime } from '@operon/runtime';
import { connectTo, query, startRuntime, testConfig } from '../helpers/test-databases.js';

class Waits {
  @Workflow()
  static async forGo(ctx: WorkflowContext): Promise<string | null> {
    return ctx.recv<string>('go', 60);
  }
}

let runtime: OperonRuntime;
let sysDb: string;

beforeAll(async () => {
  const config = testConfig('simultaneous_resumes');
  sysDb = config.database.system_database;
  runtime = await startRuntime([Waits], config);
});

afterAll(async () => {
  await runtime?.destroy({ timeoutMs: 1000 });
});

const count = async (sql: string, values: unknown[] = []) => (await query(sysDb, sql, values))[0].n as number;

it('one of two simultaneous resumes changes the workflow; the other answers 409 and records nothing', async () => {
  const uuid = 'resumed-twice';
  await runtime.client.invoke(Waits, { workflowUUID: uuid }).forGo();
  for (let i = 0; i < 200 && (await count(`SELECT count(*)::int AS n FROM operon.operation_outputs WHERE workflow_uuid = $1`, [uuid])) === 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  const pool = runtime.systemDb.systemPool;
  await cancelWorkflows(pool, { workflowUUID: uuid }, { actor: 'test' });
  for (let i = 0; i < 200 && (await query(sysDb, 'SELECT owner FROM operon.workflow_status WHERE workflow_uuid = $1', [uuid]))[0].owner !== null; i++) {
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  const handovers = () => count(`SELECT count(*)::int AS n FROM operon.executors WHERE executor_id = 'operon-handover'`);
  const audits = () => count(`SELECT count(*)::int AS n FROM operon.audit_log WHERE action = 'resume'`);
  const [handoversBefore, auditsBefore] = [await handovers(), await audits()];

  // Both resumes check the status, then queue behind a lock on the row: they meet at its UPDATE.
  const blocker = await connectTo(sysDb);
  try {
    await blocker.query('BEGIN');
    await blocker.query('SELECT 1 FROM operon.workflow_status WHERE workflow_uuid = $1 FOR UPDATE', [uuid]);
    const outcomes = [0, 1].map(() => resumeWorkflows(pool, { workflowUUID: uuid }, { actor: 'test' }).then((r) => ({ changed: r.changed }), (error: unknown) => error));
    for (let i = 0; i < 400; i++) {
      const waiting = await count(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'WITH RECURSIVE tree%'`);
      if (waiting === 2) break;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    await blocker.query("COMMIT");
    const settled = await Promise.all(outcomes);
    const won = settled.filter((o) => !(o instanceof Error));
    const lost = settled.filter((o) => o instanceof Error) as Error[];
    expect(won).toEqual([{ changed: 1 }]);
    expect(lost).toHaveLength(1);
    expect(lost[0]).toBeInstanceOf(OperonManagementConflictError);
    expect(lost[0]!.message).toMatch(/workflow resumed-twice is PENDING: another change took it first/);
  } finally {
    await blocker.end();
  }
  expect(await audits()).toBe(auditsBefore + 1);
  expect(await handovers()).toBe(handoversBefore + 1);
  // The one resume goes on: the workflow runs again and ends.
  await runtime.client.send(uuid, 'go', 'go');
  await expect(runtime.client.retrieveWorkflow(uuid).getResult()).resolves.toBe('go');
});
