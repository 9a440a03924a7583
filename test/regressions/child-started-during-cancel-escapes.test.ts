/**
 * Regression: a cancel walks the child tree as its statement first reads it. A child that a
 * running workflow of the tree started while the statement ran (committed after that read, before
 * the statement got to its parent's row) was not in the walk: it stayed PENDING and ran on under a
 * cancelled parent. Here the parent's row is held locked while a grandchild's row is committed,
 * so the cancel's statement waits at the parent with the tree already read.
 *
 * Expected: the grandchild is cancelled too, and the audit entry names it.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { cancelWorkflows, type OperonRuntime } from '@operon/runtime';
import { connectTo, insertUnownedWorkflow, query, startRuntime, testConfig } from '../helpers/test-databases.js';

let runtime: OperonRuntime;
let sysDb: string;

beforeAll(async () => {
  const config = testConfig('late_children');
  sysDb = config.database.system_database;
  runtime = await startRuntime([], config);
});

afterAll(async () => {
  await runtime?.destroy({ timeoutMs: 1000 });
});

const insertRow = (uuid: string, parent: string | null) => insertUnownedWorkflow(sysDb, uuid, parent);

it('cancels a grandchild started while the cancel statement ran', async () => {
  await insertRow('late-root', null);
  await insertRow('late-child', 'late-root');
  const blocker = await connectTo(sysDb);
  let cancel: ReturnType<typeof cancelWorkflows>;
  try {
    await blocker.query('BEGIN');
    await blocker.query(`SELECT 1 FROM operon.workflow_status WHERE workflow_uuid = 'late-child' FOR UPDATE`);
    cancel = cancelWorkflows(runtime.systemDb.systemPool, { workflowUUID: 'late-root' }, { actor: 'test' }, { appPool: runtime.systemDb.appPool });
    for (let i = 0; i < 400; i++) {
      const waiting = await query(sysDb, `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'WITH RECURSIVE tree%'`);
      if (waiting.length === 1) break;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    // The child starts a child of its own now: after the cancel read the tree.
    await insertRow('late-grandchild', 'late-child');
    await blocker.query('COMMIT');
  } finally {
    await blocker.end();
  }
  const result = await cancel!;
  const statuses = await query(sysDb, `SELECT workflow_uuid, status FROM operon.workflow_status WHERE workflow_uuid LIKE 'late-%' ORDER BY 1`);
  expect(statuses).toEqual([
    { workflow_uuid: 'late-child', status: 'CANCELLED' },
    { workflow_uuid: 'late-grandchild', status: 'CANCELLED' },
    { workflow_uuid: 'late-root', status: 'CANCELLED' },
  ]);
  expect(result.changed).toBe(3);
  const [audit] = await query(sysDb, `SELECT workflow_uuids, changed FROM operon.audit_log WHERE action = 'cancel' ORDER BY audit_id DESC LIMIT 1`);
  expect(audit).toEqual({ workflow_uuids: ['late-child', 'late-grandchild', 'late-root'], changed: 3 });
});
