/**
 * `GET /operon/versions`: each stored version with its open workflows and the live executors that
 * serve it or have it loaded. A runtime on v1 leaves a workflow waiting; a runtime on v2 recovers
 * it on v1 (loaded beside its own code) and starts one of its own. `operon versions --json` prints
 * the same from the database, with no server.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, inject, it } from 'vitest';
import { createHttpServer, OperonRuntime, type VersionView } from '@operon/runtime';
import { createLogger } from '../../packages/runtime/src/logging.js';
import { assertCliBuilt, operon } from '../cli/cli-process.js';
import { testConfig } from '../helpers/test-databases.js';
import { ordersOf, versionBundle } from './check-app.js';

const TOKEN = 'a-token-for-the-versions-list-test';
const dir = mkdtempSync(join(tmpdir(), 'operon-vlist-'));
const config = { ...testConfig('vlist', { management: { token: TOKEN } }), appDir: dir };
const logger = createLogger('silent');
const runtimes: OperonRuntime[] = [];
const classes = { 1: ordersOf(1), 2: ordersOf(2) };

afterAll(async () => {
  for (const runtime of runtimes) await runtime.destroy({ timeoutMs: 0 });
  rmSync(dir, { recursive: true, force: true });
});

const databasesOf = (c: typeof config) => ({ user_database: c.database.user_database, system_database: c.database.system_database });

async function serve(n: 1 | 2, tag: string): Promise<OperonRuntime> {
  const runtime = await OperonRuntime.create({ config, classes: [classes[n]], bundle: versionBundle(n, tag), logger });
  runtimes.push(runtime);
  await runtime.recover();
  return runtime;
}

it('lists each version with its PENDING count and the executors that serve it or have it loaded', async () => {
  const tag = String(Math.random());
  const [v1, v2] = [versionBundle(1, tag).version, versionBundle(2, tag).version];
  const first = await serve(1, tag);
  await first.client.invoke(classes[1], { workflowUUID: 'on-v1' }).process('a');
  await first.destroy({ timeoutMs: 0 });
  const second = await serve(2, tag);
  await second.client.invoke(classes[2], { workflowUUID: 'on-v2' }).process('b');
  const app = await createHttpServer(second);
  try {
    const executorId = second.executor.lease.executorId;
    const list = async () => {
      const response = await app.inject({ method: 'GET', url: '/operon/versions', headers: { authorization: `Bearer ${TOKEN}` } });
      expect(response.statusCode, response.body).toBe(200);
      return response.json() as VersionView[];
    };
    // The loaded versions are written with the next heartbeat.
    await expect.poll(async () => (await list()).find((v) => v.version === v1)?.loadedBy, { timeout: 10_000 }).toEqual([executorId]);
    const views = await list();
    expect(views.map((v) => v.version)).toEqual([v2, v1]);
    expect(views[0]).toMatchObject({ counts: { PENDING: 1, ENQUEUED: 0 }, servedBy: [executorId], loadedBy: [executorId] });
    expect(views[1]).toMatchObject({ counts: { PENDING: 1, ENQUEUED: 0 }, servedBy: [], loadedBy: [executorId] });
    expect(Date.parse(views[1]!.firstSeen)).toBeLessThanOrEqual(Date.parse(views[0]!.firstSeen));
    // The CLI reads the same from the database the config names.
    assertCliBuilt();
    const server = inject('postgres');
    writeFileSync(
      join(dir, 'operon-config.yaml'),
      JSON.stringify({
        database: { hostname: server.host, port: server.port, username: server.user, password: server.password, ...databasesOf(config) },
        telemetry: { logs: { logLevel: 'warn' } },
      }),
    );
    const json = await operon(['versions', '--json'], { cwd: dir });
    expect(json.code, json.stderr).toBe(0);
    const printed = JSON.parse(json.stdout) as VersionView[];
    expect(printed.map(({ lastSeen: _, ...rest }) => rest)).toEqual(views.map(({ lastSeen: _, ...rest }) => rest));
    const table = await operon(['versions'], { cwd: dir });
    expect(table.stdout.split('\n')[0]).toMatch(/^VERSION\s+FIRST SEEN\s+LAST SEEN\s+PENDING\s+WAITING FOR LOAD\s+ENQUEUED\s+SERVED BY\s+LOADED BY$/);
    expect(table.stdout).toMatch(new RegExp(`${v1}.*\\s1\\s+0\\s+0\\s+-\\s+${executorId}`));
    // Without the token: refused like every management read.
    expect((await app.inject({ method: 'GET', url: '/operon/versions' })).statusCode).toBe(401);
  } finally {
    await app.close();
  }
});
