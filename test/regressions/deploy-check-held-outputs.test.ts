/**
 * Regression: the deploy check (`operon debug --check`, checkOpenWorkflows) replays each open
 * workflow on the candidate code from the records the two databases hold under its UUID. A fork
 * not yet adopted holds the transaction outputs it replays in its note instead: the check passed
 * it, and on the candidate it diverged once adopted.
 *
 * Expected: the check replays a fork not yet adopted with the outputs its note holds, and names it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, expect, inject, it } from 'vitest';
import { OperonRuntime, checkOpenWorkflows, forkWorkflow } from '@operon/runtime';
import { createLogger } from '../../packages/runtime/src/logging.js';
import { connectTo, query, testConfig } from '../helpers/test-databases.js';
import { ledgerBundle, ledgerOf } from './fork-held-move-app.js';

const dir = mkdtempSync(join(tmpdir(), 'operon-check-held-'));
const config = { ...testConfig('check_held', { telemetry: { logs: { logLevel: 'silent' } } }), appDir: dir };
const server = inject('postgres');
const pool = (database: string) => new pg.Pool({ host: server.host, port: server.port, user: server.user, password: server.password, database, max: 2 });
const systemPool = pool(config.database.system_database);
const appPool = pool(config.database.user_database);
let runtime: OperonRuntime | undefined;
const tag = String(Math.random());
const v1 = ledgerBundle(1, tag);
const v2 = ledgerBundle(2, tag);

afterAll(async () => {
  await runtime?.destroy({ timeoutMs: 1000 });
  await systemPool.end();
  await appPool.end();
  rmSync(dir, { recursive: true, force: true });
});

const start = async () => {
  runtime = await OperonRuntime.create({ config, classes: [ledgerOf(1)], bundle: v1, logger: createLogger('silent') });
  await runtime.recover();
};

it('the deploy check replays a fork not yet adopted with the transaction outputs it holds', { timeout: 30_000 }, async () => {
  await start();
  await expect((await runtime!.client.invoke(ledgerOf(1), { workflowUUID: 'original' }).book()).getResult()).resolves.toBe('v1:written');
  await runtime!.destroy({ timeoutMs: 1000 });
  await forkWorkflow(systemPool, appPool, 'original', { fromStep: 1, workflowUUID: 'waiting' }, { actor: 'test' });
  // The fork's row held, so that no executor adopts it while the check runs.
  const holder = await connectTo(config.database.system_database);
  try {
    await holder.query('BEGIN');
    await holder.query(`SELECT 1 FROM operon.workflow_status WHERE workflow_uuid = 'waiting' FOR UPDATE`);
    await start();
    await query(config.database.system_database, `INSERT INTO operon.versions (version, bundle) VALUES ($1, $2)`, [v2.version, v2.bundle]);
    const versions = runtime!.executor.deps.versions;
    const candidate = await versions.acquire(v2.version);
    try {
      const report = await checkOpenWorkflows(runtime!, candidate);
      expect(report.divergences.map((d) => d.workflowUUID)).toEqual(['waiting']);
    } finally {
      versions.release(v2.version);
    }
  } finally {
    await holder.query('ROLLBACK');
    await holder.end();
  }
});
