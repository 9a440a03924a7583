/**
 * Regression: a fork not yet adopted holds the transaction outputs it replays in its note, not in
 * the app database. A move to another version (a resume of that fork once cancelled, or a fork of
 * it, with `version`) was checked on the records the two databases hold under its UUID: without
 * those outputs. The check passed, and the workflow met them on the target code and diverged there
 * (OPERON_ERR_WORKFLOW_NONDETERMINISTIC) instead of the move being refused.
 *
 * Expected: the move is checked on the outputs the fork holds too, and refused (409
 * OPERON_ERR_VERSION_CHECK_DIVERGED) when they diverge there, changing nothing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, expect, inject, it } from 'vitest';
import { OperonRuntime, cancelWorkflows, createHttpServer, forkWorkflow } from '@operon/runtime';
import { createLogger } from '../../packages/runtime/src/logging.js';
import { query, testConfig } from '../helpers/test-databases.js';
import { ledgerBundle, ledgerOf } from './fork-held-move-app.js';

const TOKEN = 'a-token-for-the-fork-held-outputs-test';
const dir = mkdtempSync(join(tmpdir(), 'operon-fork-held-'));
const config = { ...testConfig('fork_held_move', { management: { token: TOKEN }, telemetry: { logs: { logLevel: 'silent' } } }), appDir: dir };
const server = inject('postgres');
const pool = (database: string) => new pg.Pool({ host: server.host, port: server.port, user: server.user, password: server.password, database, max: 2 });
const systemPool = pool(config.database.system_database);
const appPool = pool(config.database.user_database);
let runtime: OperonRuntime | undefined;
let app: Awaited<ReturnType<typeof createHttpServer>> | undefined;

afterAll(async () => {
  await app?.close();
  await runtime?.destroy({ timeoutMs: 1000 });
  await systemPool.end();
  await appPool.end();
  rmSync(dir, { recursive: true, force: true });
});

const start = async () => {
  runtime = await OperonRuntime.create({ config, classes: [ledgerOf(1)], bundle: v1, logger: createLogger('silent') });
  await runtime.recover();
};
const tag = String(Math.random());
const v1 = ledgerBundle(1, tag);
const v2 = ledgerBundle(2, tag);

it('a move of a fork not yet adopted is checked on the transaction outputs it holds', { timeout: 30_000 }, async () => {
  await start();
  await expect((await runtime!.client.invoke(ledgerOf(1), { workflowUUID: 'original' }).book()).getResult()).resolves.toBe('v1:written');
  await runtime!.destroy({ timeoutMs: 1000 });
  // Forked while no executor runs, and cancelled before any adopted it: its output is in its note only.
  await forkWorkflow(systemPool, appPool, 'original', { fromStep: 1, workflowUUID: 'held' }, { actor: 'test' });
  await cancelWorkflows(systemPool, { workflowUUID: 'held' }, { actor: 'test' }, { appPool });
  await start();
  await query(config.database.system_database, `INSERT INTO operon.versions (version, bundle) VALUES ($1, $2)`, [v2.version, v2.bundle]);
  app = await createHttpServer(runtime!);
  const post = (url: string, payload: Record<string, unknown>) => app!.inject({ method: 'POST', url, payload, headers: { authorization: `Bearer ${TOKEN}` } });

  const forked = await post('/operon/workflows/held/fork', { fromStep: 1, workflowUUID: 'held-fork', version: v2.version });
  const resumed = await post('/operon/workflows/held/resume', { version: v2.version });
  const outcome = (answer: typeof resumed) => ({ status: answer.statusCode, error: String(answer.json().error) });
  const diverged = { status: 409, error: expect.stringMatching(/cannot move to version [0-9a-f]{16}: its records diverge/) };
  expect({ forked: outcome(forked), resumed: outcome(resumed) }).toEqual({ forked: diverged, resumed: diverged });
  expect(await query(config.database.system_database, `SELECT workflow_uuid, status, version FROM operon.workflow_status WHERE workflow_uuid LIKE 'held%'`)).toEqual([
    { workflow_uuid: 'held', status: 'CANCELLED', version: v1.version },
  ]);
});
