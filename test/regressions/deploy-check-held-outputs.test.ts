/**
 * Regression: the deploy check (`operon debug --check`, checkOpenWorkflows) replays each open
 * workflow on the candidate code from the records the two databases hold under its UUID. A fork
 * not yet adopted holds the transaction outputs it replays in its note instead: the check passed
 * it, and on the candidate it diverged once adopted.
 *
 * Expected: the check replays a fork not yet adopted with the outputs its note holds, and names it.
 */
import { afterAll, expect, it } from 'vitest';
import { checkOpenWorkflows, forkWorkflow, type OperonRuntime } from '@operon/runtime';
import { ledgerBundle, ledgerOf } from '../helpers/ledger-versions-app.js';
import { connectTo, poolsOn } from '../helpers/test-databases.js';
import { configWithAppDir, startVersion, storeVersion } from '../helpers/versioned-runtime.js';

const { config, removeAppDir } = configWithAppDir('check_held', { telemetry: { logs: { logLevel: 'silent' } } });
const { systemPool, appPool, end: endPools } = poolsOn(config);
let runtime: OperonRuntime | undefined;
const tag = String(Math.random());
const v1 = ledgerBundle(1, tag);
const v2 = ledgerBundle(2, tag);

afterAll(async () => {
  await runtime?.destroy({ timeoutMs: 1000 });
  await endPools();
  removeAppDir();
});

async function start() {
  runtime = await startVersion(config, ledgerOf(1), v1);
}

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
    await storeVersion(config, v2);
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
