/**
 * Regression: a cancel's or resume's `appDeadlineMs` was checked only for being a positive whole
 * number, and only once the system statement had run (its rows locked). A deadline past what a
 * timer can wait (2^31 - 1 ms) fired at once (Node clamps it to 1 ms) and Postgres refuses such a
 * statement_timeout, so every cancel answered 503 OPERON_ERR_MANAGEMENT_APP_DATABASE, blaming
 * an app database that was fine.
 *
 * Expected: a deadline out of range is refused up front with a RangeError naming the option, and
 * nothing is changed; the same change with a valid deadline works.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import pg from 'pg';
import { inject } from 'vitest';
import { cancelWorkflows, resumeWorkflows, type OperonRuntime } from '@operon/runtime';
import { insertUnownedWorkflow, query, startRuntime, testConfig } from '../helpers/test-databases.js';

let runtime: OperonRuntime;
let appPool: pg.Pool;
let sysDb: string;

beforeAll(async () => {
  const config = testConfig('app_deadline_range');
  sysDb = config.database.system_database;
  runtime = await startRuntime([], config);
  const server = inject('postgres');
  appPool = new pg.Pool({ host: server.host, port: server.port, user: server.user, password: server.password, database: config.database.user_database, max: 2 });
});

afterAll(async () => {
  await appPool?.end();
  await runtime?.destroy({ timeoutMs: 1000 });
});

const status = async (uuid: string) => (await query(sysDb, `SELECT status FROM operon.workflow_status WHERE workflow_uuid = $1`, [uuid]))[0]?.status;

it('refuses an app deadline a timer cannot wait for, before changing anything', async () => {
  await insertUnownedWorkflow(sysDb, 'range-root');
  const pool = runtime.systemDb.systemPool;
  for (const appDeadlineMs of [2 ** 31, 1.5, 0]) {
    await expect(cancelWorkflows(pool, { workflowUUID: 'range-root' }, { actor: 'test' }, { appPool, appDeadlineMs })).rejects.toThrow(
      new RangeError(`appDeadlineMs must be a whole number of milliseconds from 1 to 2147483647, got ${appDeadlineMs}`),
    );
  }
  expect(await status('range-root')).toBe('PENDING');
  expect(await query(sysDb, `SELECT 1 FROM operon.audit_log WHERE 'range-root' = ANY(workflow_uuids)`)).toHaveLength(0);

  expect((await cancelWorkflows(pool, { workflowUUID: 'range-root' }, { actor: 'test' }, { appPool, appDeadlineMs: 2 ** 31 - 1 })).workflowUUIDs).toEqual(['range-root']);
  await expect(resumeWorkflows(pool, { workflowUUID: 'range-root' }, { actor: 'test' }, { appPool, appDeadlineMs: 2 ** 31 })).rejects.toThrow(RangeError);
  expect(await status('range-root')).toBe('CANCELLED');
  expect((await resumeWorkflows(pool, { workflowUUID: 'range-root' }, { actor: 'test' }, { appPool, appDeadlineMs: 2_000 })).workflowUUIDs).toEqual(['range-root']);
});
