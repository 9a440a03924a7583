/**
 * A cancel marks the app database's fence rows while it holds its tree's system rows locked. An
 * app database that hangs (every byte to it held, as a stopped server does) or is down fails the
 * cancel, within its deadline, with OperonManagementAppDatabaseError: the system rows are
 * unlocked again (a writer waiting for them goes on), nothing is cancelled, audited or marked, and
 * the same cancel once the app database answers cancels the tree. A resume is bounded the same way.
 *
 * The app database is reached through a proxy the test stalls or cuts; the system database and
 * the writer are not.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import pg from 'pg';
import { inject } from 'vitest';
import { cancelWorkflows, resumeWorkflows, OperonManagementAppDatabaseError, type OperonRuntime } from '@operon/runtime';
import { CuttableProxy } from '../helpers/cuttable-proxy.js';
import { connectTo, insertUnownedWorkflow, query, startRuntime, testConfig } from '../helpers/test-databases.js';

let runtime: OperonRuntime;
let proxy: CuttableProxy;
let appPool: pg.Pool;
let sysDb: string;
let appDb: string;

beforeAll(async () => {
  const config = testConfig('cancel_app_away');
  sysDb = config.database.system_database;
  appDb = config.database.user_database;
  runtime = await startRuntime([], config);
  const server = inject('postgres');
  proxy = new CuttableProxy({ host: server.host, port: server.port });
  const port = await proxy.listen();
  appPool = new pg.Pool({ host: '127.0.0.1', port, user: server.user, password: server.password, database: appDb, max: 2, connectionTimeoutMillis: 10_000 });
  // A cut drops idle connections too: the pool hears of it as an error of that client.
  appPool.on('error', () => undefined);
});

afterAll(async () => {
  proxy?.restore();
  proxy?.unstall();
  await appPool?.end();
  await proxy?.close();
  await runtime?.destroy({ timeoutMs: 1000 });
});

const insertRow = (uuid: string, parent: string | null) => insertUnownedWorkflow(sysDb, uuid, parent);

const statuses = (prefix: string) => query(sysDb, `SELECT workflow_uuid, status FROM operon.workflow_status WHERE workflow_uuid LIKE $1 ORDER BY 1`, [`${prefix}%`]);
const audits = (prefix: string) => query(sysDb, `SELECT action, workflow_uuids FROM operon.audit_log WHERE $1 = ANY(workflow_uuids) ORDER BY audit_id`, [`${prefix}root`]);
const marks = (prefix: string) => query(appDb, `SELECT workflow_uuid FROM operon.workflow_owners WHERE cancelled AND workflow_uuid LIKE $1 ORDER BY 1`, [`${prefix}%`]);

async function tree(prefix: string): Promise<void> {
  await insertRow(`${prefix}root`, null);
  await insertRow(`${prefix}child`, `${prefix}root`);
}

it('fails within its deadline when the app database hangs, holding no row after, and works once it answers', async () => {
  await tree('hang-');
  await appPool.query('SELECT 1'); // an idle connection in the pool: the cancel's statement itself hangs
  proxy.stall();
  const writer = await connectTo(sysDb);
  try {
    const began = performance.now();
    const cancel = cancelWorkflows(runtime.systemDb.systemPool, { workflowUUID: 'hang-root' }, { actor: 'test' }, { appPool, appDeadlineMs: 1_000 });
    const outcome = cancel.then(() => undefined, (error: unknown) => error);
    // The cancel's statement ran (its rows locked) and it waits for the app database now.
    for (let i = 0; i < 400; i++) {
      const waiting = await query(sysDb, `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND state = 'idle in transaction' AND query LIKE 'WITH RECURSIVE tree%'`);
      if (waiting.length > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    // A writer to a row of the tree waits for the cancel's lock, and goes on once the cancel gave up.
    const writeBegan = performance.now();
    await writer.query(`UPDATE operon.workflow_status SET updated_at = updated_at + 1 WHERE workflow_uuid = 'hang-child'`);
    const wrote = performance.now();
    const error = await outcome;
    // Printed, not asserted (the machine is shared): the bound is the deadline, not a speed.
    console.log(`the cancel gave up ${Math.round(performance.now() - began)} ms after it began (deadline 1000 ms); the writer waited ${Math.round(wrote - writeBegan)} ms for its row`);
    expect(error).toBeInstanceOf(OperonManagementAppDatabaseError);
    expect((error as OperonManagementAppDatabaseError).status).toBe(503);
    expect((error as Error).message).toBe(
      "cannot cancel workflow hang-root: the app database failed while the cancel marked them cancelled in its fence table (it did not answer within 1000 ms); nothing was changed in either database: try again once the app database answers",
    );
  } finally {
    await writer.end();
  }
  expect(await statuses('hang-')).toEqual([
    { workflow_uuid: 'hang-child', status: 'PENDING' },
    { workflow_uuid: 'hang-root', status: 'PENDING' },
  ]);
  expect(await audits('hang-')).toEqual([]);
  proxy.unstall();
  // What the stall held never reached the server (its connection was destroyed first): no mark.
  expect(await marks('hang-')).toEqual([]);
  const retried = await cancelWorkflows(runtime.systemDb.systemPool, { workflowUUID: 'hang-root' }, { actor: 'test' }, { appPool, appDeadlineMs: 1_000 });
  expect(retried.workflowUUIDs.sort()).toEqual(['hang-child', 'hang-root']);
  expect(await marks('hang-')).toEqual([{ workflow_uuid: 'hang-child' }, { workflow_uuid: 'hang-root' }]);
});

it('fails at once when the app database is down, changing nothing, and works once it is back (a resume too)', async () => {
  await tree('down-');
  proxy.cutAll();
  const cancel = { workflowUUID: 'down-root' };
  const refused = await cancelWorkflows(runtime.systemDb.systemPool, cancel, { actor: 'test' }, { appPool }).then(() => undefined, (error: unknown) => error);
  expect(refused).toBeInstanceOf(OperonManagementAppDatabaseError);
  expect((refused as Error).message).toMatch(/^cannot cancel workflow down-root: the app database failed while the cancel marked them cancelled in its fence table \(.+\); nothing was changed in either database/);
  expect(await statuses('down-')).toEqual([
    { workflow_uuid: 'down-child', status: 'PENDING' },
    { workflow_uuid: 'down-root', status: 'PENDING' },
  ]);
  expect(await audits('down-')).toEqual([]);
  proxy.restore();
  await cancelWorkflows(runtime.systemDb.systemPool, cancel, { actor: 'test' }, { appPool });
  expect((await statuses('down-')).map((r) => r.status)).toEqual(['CANCELLED', 'CANCELLED']);

  // A resume clears the marks under the same rows' locks: down, it changes nothing either.
  proxy.cutAll();
  const notResumed = await resumeWorkflows(runtime.systemDb.systemPool, cancel, { actor: 'test' }, { appPool, waitMs: 0 }).then(() => undefined, (error: unknown) => error);
  expect(notResumed).toBeInstanceOf(OperonManagementAppDatabaseError);
  expect((notResumed as Error).message).toMatch(/^cannot resume workflow down-root: the app database failed while the resume cleared the cancel's marks in its fence table/);
  expect((await statuses('down-')).map((r) => r.status)).toEqual(['CANCELLED', 'CANCELLED']);
  expect(await marks('down-')).toEqual([{ workflow_uuid: 'down-child' }, { workflow_uuid: 'down-root' }]);
  expect((await audits('down-')).map((a) => a.action)).toEqual(['cancel']);
  proxy.restore();
  await resumeWorkflows(runtime.systemDb.systemPool, cancel, { actor: 'test' }, { appPool, waitMs: 0 });
  expect(await marks('down-')).toEqual([]);
});
