/**
 * A workflow of another version, recovered on that version (loaded beside the current code), ran
 * without the request recorded with it: `resumeOnVersion` (and the dequeue of another version's
 * workflow) built the run without `request`, so `ctx.request` was null there while the first run
 * saw the request. A workflow that reads it diverges after a deploy.
 *
 * Expected: the recovered run on its version sees the recorded request.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { createHttpServer, OperonRuntime } from '@operon/runtime';
import { createLogger } from '../../packages/runtime/src/logging.js';
import { versionOf } from '../../packages/runtime/src/versions/bundle-version.js';
import { testConfig } from '../helpers/test-databases.js';
import { Echo } from './versioned-request-app.js';

const appFile = fileURLToPath(new URL('./versioned-request-app.ts', import.meta.url));

function bundle(tag: string) {
  const bytes = Buffer.from(`export { Echo } from ${JSON.stringify(appFile)}; // ${tag}\n`);
  return { version: versionOf(bytes), bundle: bytes, sourceMap: null };
}

it('a workflow recovered on its own version sees the request recorded with it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'operon-vreq-'));
  const config = { ...testConfig('vreq'), appDir: dir };
  const logger = createLogger('silent');
  const first = await OperonRuntime.create({ config, classes: [Echo], bundle: bundle(`v1 ${Math.random()}`), logger });
  let second: OperonRuntime | undefined;
  try {
    await first.recover();
    const app = await createHttpServer(first);
    const started = await app.inject({ method: 'POST', url: '/echo', headers: { 'x-request-id': 'req-v1' } });
    await app.close();
    await first.destroy({ timeoutMs: 0 });
    second = await OperonRuntime.create({ config, classes: [Echo], bundle: bundle(`v2 ${Math.random()}`), logger });
    await second.recover();
    await second.client.send(started.body, 'now', 'go');
    const result = (await second.client.retrieveWorkflow(started.body).getResult()) as { request: Record<string, unknown> | null };
    expect(result.request).toMatchObject({ method: 'POST', url: '/echo', requestID: 'req-v1' });
  } finally {
    await second?.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
});
