/**
 * `operon start` listens for unhandled rejections so that a query a transaction sent after it
 * ended does not end the process; any other rejection it rethrew, as an uncaught exception. An
 * app that handles unhandled rejections itself (its own listener logs them and goes on, which
 * Node allows) was ended all the same by Operon's rethrow: Node ends the process only when nobody
 * listens.
 *
 * Expected: with the app's own listener, the app's rejection is the app's: the process goes on.
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

async function get(port: number, path: string): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return `${res.status} ${await res.text()}`;
}

it("operon start leaves an unhandled rejection to the app's own listener instead of ending the process", async () => {
  assertCliBuilt();
  const port = await freePort();
  const bundle = await bundleFixture('own-rejection-handler-app.ts');
  dir = writeAppDir('ownrejection', { runtimeConfig: { host: '127.0.0.1', port, entrypoint: bundle } });
  server = spawnServer(process.execPath, [CLI_MAIN, 'start'], { cwd: dir.dir, env: cleanEnv() });
  for (let attempt = 0; ; attempt++) {
    try {
      await get(port, '/alive');
      break;
    } catch (error) {
      if (attempt > 300 || server.child.exitCode !== null) throw new Error(`operon start is not serving: ${String(error)}\n${server.output()}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  expect(await get(port, '/reject')).toBe('200 rejected');
  await server.waitFor(/app handled its rejection: the app lets this one go/, 10_000);
  await new Promise((resolve) => setTimeout(resolve, 200));
  expect(server.child.exitCode).toBeNull();
  expect(await get(port, '/alive')).toBe('200 alive');
  expect((await server.kill('SIGTERM')).code).toBe(0);
  server = undefined;
}, 90_000);
