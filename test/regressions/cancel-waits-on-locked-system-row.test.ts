/**
 * Regression: a cancel's or resume's work on the system database had no time limit (only its app
 * database step had one). A workflow row held locked by another transaction (a long operator
 * script, a stuck migration, a paused writer) made the management request wait as long, holding a
 * pooled connection and the HTTP request open without end.
 *
 * Expected: the change gives up after `management.systemDeadlineMs` (here 500 ms, from the config
 * file) with 503 OPERON_ERR_MANAGEMENT_SYSTEM_DATABASE naming the workflow, having changed and
 * audited nothing; once the lock is let go, the same change works. The config refuses a deadline
 * no timer can keep, naming the key.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type pg from 'pg';
import { OperonConfigError, OperonManagementSystemDatabaseError, cancelWorkflows, createHttpServer, resolveConfig, type OperonRuntime } from '@operon/runtime';
import { connectTo, insertUnownedWorkflow, query, startRuntime, testConfig } from '../helpers/test-databases.js';

type HttpServer = Awaited<ReturnType<typeof createHttpServer>>;
const TOKEN = 'a-token-for-the-locked-row-tests';
let runtime: OperonRuntime;
let app: HttpServer;
let sysDb: string;

beforeAll(async () => {
  const config = testConfig('locked_sys_row', { management: { token: TOKEN, systemDeadlineMs: 500 } });
  sysDb = config.database.system_database;
  runtime = await startRuntime([], config);
  app = await createHttpServer(runtime);
});

afterAll(async () => {
  await app?.close();
  await runtime?.destroy({ timeoutMs: 1000 });
});

async function post(url: string) {
  const response = await app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${TOKEN}` } });
  return { status: response.statusCode, body: response.json() as any };
}

const statusOf = async (uuid: string) => (await query(sysDb, 'SELECT status FROM operon.workflow_status WHERE workflow_uuid = $1', [uuid]))[0]?.status;
const audited = async (uuid: string) => (await query(sysDb, 'SELECT action FROM operon.audit_log WHERE $1 = ANY(workflow_uuids) ORDER BY audit_id', [uuid])).map((r) => r.action);

async function lockRow(uuid: string): Promise<pg.Client> {
  const holder = await connectTo(sysDb);
  await holder.query('BEGIN');
  await holder.query('SELECT 1 FROM operon.workflow_status WHERE workflow_uuid = $1 FOR UPDATE', [uuid]);
  return holder;
}

it('answers a cancel and a resume of a locked workflow with 503 within the deadline, changing nothing, then works once the lock is gone', async () => {
  await insertUnownedWorkflow(sysDb, 'locked-root');
  let holder = await lockRow('locked-root');
  try {
    const cancel = await post('/operon/workflows/locked-root/cancel');
    expect(cancel.status).toBe(503);
    expect(cancel.body.error).toMatch(/^cannot cancel workflow locked-root: the system database failed .*; nothing was changed/);
    // The same through the function, as the CLI calls it: its own error class and code.
    const direct = await cancelWorkflows(runtime.systemDb.systemPool, { workflowUUID: 'locked-root' }, { actor: 'test' }, { systemDeadlineMs: 300 }).catch((e: unknown) => e);
    expect(direct).toBeInstanceOf(OperonManagementSystemDatabaseError);
    expect((direct as OperonManagementSystemDatabaseError).code).toBe('OPERON_ERR_MANAGEMENT_SYSTEM_DATABASE');
  } finally {
    await holder.query('ROLLBACK');
    await holder.end();
  }
  expect(await statusOf('locked-root')).toBe('PENDING');
  expect(await audited('locked-root')).toEqual([]);
  expect(await post('/operon/workflows/locked-root/cancel')).toMatchObject({ status: 200, body: { changed: 1 } });

  holder = await lockRow('locked-root');
  try {
    const resume = await post('/operon/workflows/locked-root/resume');
    expect(resume.status).toBe(503);
    expect(resume.body.error).toMatch(/^cannot resume workflow locked-root: the system database failed/);
  } finally {
    await holder.query('ROLLBACK');
    await holder.end();
  }
  expect(await statusOf('locked-root')).toBe('CANCELLED');
  expect(await audited('locked-root')).toEqual(['cancel']);
  expect(await post('/operon/workflows/locked-root/resume')).toMatchObject({ status: 200, body: { changed: 1 } });
});

it('reads both deadlines from the config file and refuses one out of range, naming the key', () => {
  const resolve = (management: Record<string, unknown>) => resolveConfig({ management }, { file: 'operon-config.yaml', appDir: process.cwd(), env: {} });
  expect(resolve({}).management).toMatchObject({ appDeadlineMs: 5000, systemDeadlineMs: 5000 });
  expect(resolve({ appDeadlineMs: 20_000, systemDeadlineMs: 750 }).management).toMatchObject({ appDeadlineMs: 20_000, systemDeadlineMs: 750 });
  for (const [key, value] of [['systemDeadlineMs', 0], ['appDeadlineMs', 2 ** 31], ['systemDeadlineMs', 1.5], ['appDeadlineMs', '5s']] as const) {
    let error: unknown;
    try {
      resolve({ [key]: value });
    } catch (caught) {
      error = caught;
    }
    expect(error, `${key}: ${value}`).toBeInstanceOf(OperonConfigError);
    expect((error as Error).message).toContain(`management.${key}`);
  }
});
