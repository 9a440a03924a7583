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
import { afterAll, expect, it } from 'vitest';
import { cancelWorkflows, createHttpServer, forkWorkflow, type OperonRuntime } from '@operon/runtime';
import { ledgerBundle, ledgerOf } from '../helpers/ledger-versions-app.js';
import { authorizedPost, type HttpServer } from '../helpers/management-requests.js';
import { poolsOn, query } from '../helpers/test-databases.js';
import { configWithAppDir, startVersion, storeVersion } from '../helpers/versioned-runtime.js';

const TOKEN = 'a-token-for-the-fork-held-outputs-test';
const { config, removeAppDir } = configWithAppDir('fork_held_move', { management: { token: TOKEN }, telemetry: { logs: { logLevel: 'silent' } } });
const { systemPool, appPool, end: endPools } = poolsOn(config);
const tag = String(Math.random());
const v1 = ledgerBundle(1, tag);
const v2 = ledgerBundle(2, tag);
let runtime: OperonRuntime | undefined;
let app: HttpServer | undefined;

afterAll(async () => {
  await app?.close();
  await runtime?.destroy({ timeoutMs: 1000 });
  await endPools();
  removeAppDir();
});

async function start() {
  runtime = await startVersion(config, ledgerOf(1), v1);
}

it('a move of a fork not yet adopted is checked on the transaction outputs it holds', { timeout: 30_000 }, async () => {
  await start();
  await expect((await runtime!.client.invoke(ledgerOf(1), { workflowUUID: 'original' }).book()).getResult()).resolves.toBe('v1:written');
  await runtime!.destroy({ timeoutMs: 1000 });
  // Forked while no executor runs, and cancelled before any adopted it: its output is in its note only.
  await forkWorkflow(systemPool, appPool, 'original', { fromStep: 1, workflowUUID: 'held' }, { actor: 'test' });
  await cancelWorkflows(systemPool, { workflowUUID: 'held' }, { actor: 'test' }, { appPool });
  await start();
  await storeVersion(config, v2);
  app = await createHttpServer(runtime!);
  const post = authorizedPost(app, TOKEN);

  const forked = await post('/operon/workflows/held/fork', { fromStep: 1, workflowUUID: 'held-fork', version: v2.version });
  const resumed = await post('/operon/workflows/held/resume', { version: v2.version });
  const outcome = (answer: typeof resumed) => ({ status: answer.statusCode, error: String(answer.json().error) });
  const diverged = { status: 409, error: expect.stringMatching(/cannot move to version [0-9a-f]{16}: its records diverge/) };
  expect({ forked: outcome(forked), resumed: outcome(resumed) }).toEqual({ forked: diverged, resumed: diverged });
  expect(await query(config.database.system_database, `SELECT workflow_uuid, status, version FROM operon.workflow_status WHERE workflow_uuid LIKE 'held%'`)).toEqual([
    { workflow_uuid: 'held', status: 'CANCELLED', version: v1.version },
  ]);
});
