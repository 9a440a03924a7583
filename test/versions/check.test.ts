/**
 * The replay gate: open workflows of three mutually incompatible versions (each version's first
 * operation has another name) are replayed on a candidate's code, read-only. Exactly the workflows
 * of the other versions diverge, each at operation 0, naming the recorded function, the one the
 * candidate calls and where in the candidate's source it calls it. In process (the runtime's
 * check), and as a user runs it (`operon debug --check [bundle]` on a built bundle).
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { checkOpenWorkflows, createHttpServer, OperonRuntime } from '@operon/runtime';
import { createLogger } from '../../packages/runtime/src/logging.js';
import { assertCliBuilt, operon, REPO } from '../cli/cli-process.js';
import { testConfig } from '../helpers/test-databases.js';
import { ordersOf, versionBundle, type VersionNumber } from './check-app.js';
import { versionSource } from './versioned-app.js';

const dir = mkdtempSync(join(tmpdir(), 'operon-vcheck-'));
const config = { ...testConfig('vcheck'), appDir: dir };
const logger = createLogger('silent');
const classes = { 1: ordersOf(1), 2: ordersOf(2), 3: ordersOf(3) };
const tag = String(Math.random());
const opened: OperonRuntime[] = [];
const STARTED: Record<VersionNumber, string[]> = { 1: ['one-a', 'one-b'], 2: ['two-a'], 3: ['three-a'] };
const FIRST: Record<VersionNumber, string> = { 1: 'Orders.reserve', 2: 'Orders.charge', 3: 'Orders.ship' };

beforeAll(async () => {
  // Each version in turn starts its workflows, which wait in recv, and hands them over as it stops.
  for (const n of [1, 2, 3] as const) {
    const runtime = await OperonRuntime.create({ config, classes: [classes[n]], bundle: versionBundle(n, tag), logger });
    opened.push(runtime);
    await runtime.recover();
    for (const uuid of STARTED[n]) await runtime.client.invoke(classes[n], { workflowUUID: uuid }).process(uuid);
    // Each waits for its message: its first operation is recorded.
    for (const uuid of STARTED[n]) {
      while (((await runtime.systemDb.loadRecords([uuid])).get(uuid)?.size ?? 0) < 2) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await runtime.destroy({ timeoutMs: 0 });
  }
});

afterAll(async () => {
  for (const runtime of opened) await runtime.destroy({ timeoutMs: 0 });
  rmSync(dir, { recursive: true, force: true });
});

/** The workflows expected to diverge on version `candidate`'s code. */
function diverging(candidate: VersionNumber): string[] {
  return ([1, 2, 3] as const).filter((n) => n !== candidate).flatMap((n) => STARTED[n]).sort();
}

describe('checking open workflows against a candidate', () => {
  it('names exactly the workflows of the other versions, with the operation, both functions and the new call\'s location', async () => {
    for (const candidate of [3, 1] as const) {
      const runtime = await OperonRuntime.create({ config, classes: [ordersOf(candidate)], logger, readOnly: true });
      opened.push(runtime);
      const report = await checkOpenWorkflows(runtime);
      await runtime.destroy();
      expect(report.checked).toBe(4);
      expect(report.divergences.map((d) => d.workflowUUID).sort()).toEqual(diverging(candidate));
      for (const d of report.divergences) {
        const recordedOn = ([1, 2, 3] as const).find((n) => STARTED[n].includes(d.workflowUUID))!;
        expect(d.version).toBe(versionBundle(recordedOn, tag).version);
        expect(d.divergence).toMatchObject({ kind: 'different-function', functionID: 0, recordedFunction: FIRST[recordedOn], newFunction: FIRST[candidate] });
        expect(d.divergence.location).toMatch(/check-app\.ts:\d+:\d+$/);
      }
    }
  });

  it('operon debug --check prints one line per diverging workflow and exits 1; a bundle given by path is checked the same', { timeout: 60_000 }, async () => {
    assertCliBuilt();
    const app = join(dir, 'app');
    mkdirSync(join(app, 'src'), { recursive: true });
    mkdirSync(join(app, 'node_modules', '@operon'), { recursive: true });
    symlinkSync(join(REPO, 'packages/sdk'), join(app, 'node_modules', '@operon', 'sdk'), 'dir');
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'check-app', private: true, type: 'module' }));
    const server = inject('postgres');
    const { user_database, system_database } = config.database;
    writeFileSync(
      join(app, 'operon-config.yaml'),
      JSON.stringify({
        database: { hostname: server.host, port: server.port, username: server.user, password: server.password, user_database, system_database },
        runtimeConfig: { entrypoint: 'dist/operations.js' },
        telemetry: { logs: { logLevel: 'warn' } },
      }),
    );
    // The deploy test's app: its Orders.process calls Orders.ship first in v3, Orders.reserve in v1.
    writeFileSync(join(app, 'src', 'operations.ts'), versionSource(3));
    expect((await operon(['build'], { cwd: app })).code).toBe(0);
    const check = await operon(['debug', '--check'], { cwd: app });
    expect(check.code, check.stderr).toBe(1);
    const lines = check.stdout.trimEnd().split('\n');
    expect(lines.slice(0, -1).map((line) => line.split(' ')[0]).sort()).toEqual(diverging(3));
    expect(lines[0]).toMatch(/^one-a \(Orders\.process, PENDING, version [0-9a-f]{16}\): operation 0: recorded Orders\.reserve, new code calls Orders\.ship at src\/operations\.ts:\d+:\d+$/);
    expect(lines.at(-1)).toMatch(/^checked 4 open workflows on dist\/operations\.js \(version [0-9a-f]{16}\) in \d+ ms, [\d.]+ ms each: 3 would diverge$/);
    expect(check.stderr).toMatch(/3 of 4 open workflows would diverge/);

    // A candidate given by path: v1's code, on which every v2 and v3 workflow diverges.
    writeFileSync(join(app, 'src', 'operations.ts'), versionSource(1));
    expect((await operon(['build'], { cwd: app })).code).toBe(0);
    const json = await operon(['debug', '--check', 'dist/operations.js', '--json'], { cwd: app });
    expect(json.code).toBe(1);
    const report = JSON.parse(json.stdout) as { checked: number; divergences: { workflowUUID: string }[] };
    expect(report.divergences.map((d) => d.workflowUUID).sort()).toEqual(diverging(1));
  });

  it('resume and fork with a version move a workflow to that code only when its records agree with it', { timeout: 60_000 }, async () => {
    const token = 'a-token-for-the-version-move-test';
    const live = await OperonRuntime.create({ config: { ...config, management: { ...config.management, token } }, classes: [classes[3]], bundle: versionBundle(3, tag), logger });
    opened.push(live);
    await live.recover();
    const app = await createHttpServer(live);
    const post = (url: string, body: object) => app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${token}` }, payload: body });
    const versionOfWorkflow = async (uuid: string) => (await live.systemDb.getWorkflow(uuid))!.version;
    const [v1, v3] = [versionBundle(1, tag).version, versionBundle(3, tag).version];
    try {
      expect((await post('/operon/workflows/one-a/cancel', {})).statusCode).toBe(200);
      const refused = await post('/operon/workflows/one-a/resume', { version: 'latest' });
      expect(refused.statusCode).toBe(409);
      expect(refused.json().error).toMatch(/operation 0: the code calls Orders\.ship, but the record is of Orders\.reserve \(called at .*check-app\.ts:\d+:\d+\)/);
      expect((await live.systemDb.getWorkflow('one-a'))!.status).toBe('CANCELLED');
      expect((await post('/operon/workflows/one-a/resume', { version: 'ffffffffffffffff' })).statusCode).toBe(400);
      // On its own version the records agree: resumed, still on v1.
      expect((await post('/operon/workflows/one-a/resume', { version: v1 })).statusCode).toBe(200);
      expect(await versionOfWorkflow('one-a')).toBe(v1);

      // A fork keeps the original's version; from step 0 (no records kept) it may move anywhere; from step 1 it keeps v1's reserve.
      const kept = await post('/operon/workflows/one-b/fork', { fromStep: 1 });
      expect(await versionOfWorkflow(kept.json().workflowUUID)).toBe(v1);
      const moved = await post('/operon/workflows/one-b/fork', { fromStep: 0, version: 'latest' });
      expect(moved.statusCode, moved.body).toBe(200);
      expect(await versionOfWorkflow(moved.json().workflowUUID)).toBe(v3);
      await live.client.send(moved.json().workflowUUID, 'go', 'go');
      expect(await live.client.retrieveWorkflow(moved.json().workflowUUID).getResult()).toBe(`v3:ship-one-b:go`);
      expect((await post('/operon/workflows/one-b/fork', { fromStep: 1, version: v3 })).statusCode).toBe(409);
    } finally {
      await app.close();
    }
  });
});
