/**
 * A transaction that left a query floating after it returned: the query is refused (its
 * connection is back in the pool), and nothing handled that rejection, so Node ended `operon
 * start` with an unhandled rejection, taking every request and workflow of the process with it.
 * The refusal is now a warning naming the transaction and its workflow, and the server goes on.
 */
import { afterAll, expect, it } from 'vitest';
import { bundleFixture } from '../helpers/child-app.js';
import { writeAppDir, type AppDir } from '../helpers/app-dir.js';
import { freePort } from '../helpers/global-setup.js';
import { CLI_MAIN, assertCliBuilt, cleanEnv, spawnServer, type Server } from '../cli/cli-process.js';

let dir: AppDir | undefined;
let server: Server | undefined;
afterAll(async () => {
  await server?.kill('SIGKILL');
  dir?.remove();
});

async function get(port: number, path: string, headers: Record<string, string> = {}): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers });
  return `${res.status} ${await res.text()}`;
}

/** The log level is warn, so the "serving on" line is not printed: poll until it answers. */
async function untilServing(port: number): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await get(port, '/alive');
      return;
    } catch (error) {
      if (attempt > 300 || server?.child.exitCode !== null) throw new Error(`operon start is not serving: ${String(error)}\n${server?.output()}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

it('operon start survives a floating query and warns naming the transaction and the workflow', async () => {
  assertCliBuilt();
  const port = await freePort();
  const bundle = await bundleFixture('floating-query-app.ts');
  dir = writeAppDir('floating', { runtimeConfig: { host: '127.0.0.1', port, entrypoint: bundle } });
  server = spawnServer(process.execPath, [CLI_MAIN, 'start'], { cwd: dir.dir, env: cleanEnv() });
  await untilServing(port);
  expect(await get(port, '/floating', { 'operon-workflowuuid': 'floating-1' })).toBe('200 returned');
  const [line] = await server.waitFor(/^.*Floating\.leaveQueryFloating.*$/m, 10_000);
  expect(line).toContain('floating-1');
  expect(line).toMatch(/"level":40|WARN/);
  // Another unhandled turn of the event loop, then the process still answers.
  await new Promise((resolve) => setTimeout(resolve, 200));
  expect(await get(port, '/alive')).toBe('200 alive');
  expect((await server.kill('SIGTERM')).code).toBe(0);
  server = undefined;
}, 90_000);
