/**
 * Three mutually incompatible versions deployed in turn while workflows of each wait in recv or
 * sleep: every workflow finishes with its own version's result. On one process (each deploy a
 * SIGTERM and a start of the next version), and with two processes on different versions, each
 * adopting the other's workflows. Real `operon start` processes; the old code is loaded from the
 * system database (the bundle file on disk is always the newest build).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readBundle } from '@operon/runtime';
import { assertCliBuilt } from '../cli/cli-process.js';
import { killAll, post, startExecutor, sys, type FleetProcess } from '../executors/fleet.js';
import { expectedResult, prepareVersionedApp, type VersionedApp, type VersionNumber } from './versioned-app.js';

const running: FleetProcess[] = [];
const apps: VersionedApp[] = [];

beforeAll(() => assertCliBuilt());

afterAll(async () => {
  await killAll(running);
  for (const app of apps) app.remove();
});

async function serve(app: VersionedApp): Promise<FleetProcess> {
  const executor = await startExecutor(app);
  running.push(executor);
  return executor;
}

async function stop(executor: FleetProcess): Promise<void> {
  executor.signal('SIGTERM');
  const { code } = await executor.server.exited;
  expect(code, executor.output()).toBe(0);
}

async function call(executor: FleetProcess, path: string, body: Record<string, unknown>): Promise<unknown> {
  const response = await post(executor, path, body);
  const text = await response.text();
  if (response.status !== 200) throw new Error(`POST ${path} answered ${response.status}: ${text}\n${executor.output()}`);
  // A string is answered as text, anything else as JSON.
  return response.headers.get('content-type')?.startsWith('application/json') ? JSON.parse(text) : text;
}

interface Started {
  readonly id: string;
  readonly version: VersionNumber;
  readonly kind: 'recv' | 'sleep';
}

async function startOn(executor: FleetProcess, version: VersionNumber, id: string, kind: Started['kind'] = 'recv', seconds = 0): Promise<Started> {
  await call(executor, '/start', { id, kind, seconds });
  return { id, version, kind };
}

/** The version each workflow recorded. */
async function recordedVersions(app: VersionedApp, ids: readonly string[]): Promise<Record<string, string | null>> {
  const rows = await sys<{ workflow_uuid: string; version: string | null }>(
    app,
    'SELECT workflow_uuid, version FROM operon.workflow_status WHERE workflow_uuid = ANY($1)',
    [ids],
  );
  return Object.fromEntries(rows.map((r) => [r.workflow_uuid, r.version]));
}

async function finishAll(executor: FleetProcess, workflows: readonly Started[]): Promise<void> {
  for (const wf of workflows) if (wf.kind === 'recv') await call(executor, '/go', { id: wf.id });
  const results = await Promise.all(workflows.map((wf) => call(executor, '/result', { id: wf.id })));
  expect(results).toEqual(workflows.map((wf) => expectedResult(wf.version, wf.id, wf.kind === 'sleep' ? 'slept' : 'go')));
}

// The two tests share nothing (each its own app and databases) and mostly wait on processes that
// start, drain and sleep: they run at the same time.
describe.concurrent('deploying new code while workflows wait', () => {
  it('one process, three versions in turn: every workflow ends on the code it started on', { timeout: 150_000 }, async () => {
    const app = await prepareVersionedApp('vdeploy1');
    apps.push(app);
    const hashes: Record<number, string> = {};
    const workflows: Started[] = [];

    hashes[1] = readBundle(app.bundle).version;
    let executor = await serve(app);
    workflows.push(await startOn(executor, 1, 'one-a'), await startOn(executor, 1, 'one-b'));
    await stop(executor);

    hashes[2] = await app.deploy(2);
    executor = await serve(app);
    workflows.push(await startOn(executor, 2, 'two-a'), await startOn(executor, 2, 'two-sleep', 'sleep', 12));
    await stop(executor);

    hashes[3] = await app.deploy(3);
    executor = await serve(app);
    workflows.push(await startOn(executor, 3, 'three-a'));
    expect(new Set(Object.values(hashes)).size).toBe(3);
    expect(await recordedVersions(app, workflows.map((wf) => wf.id))).toEqual(
      Object.fromEntries(workflows.map((wf) => [wf.id, hashes[wf.version]])),
    );

    await finishAll(executor, workflows);
    // Each old version was loaded from the system database beside v3, and unloaded when its last workflow ended.
    expect(executor.output()).toMatch(new RegExp(`loaded version ${hashes[1]}`));
    expect(executor.output()).toMatch(new RegExp(`loaded version ${hashes[2]}`));
    expect(executor.output()).toMatch(new RegExp(`unloaded version ${hashes[1]}`));
    // v3's child ran on v3 (its result says so); none of the old code's children recorded another version.
    const children = await sys<{ version: string }>(app, `SELECT version FROM operon.workflow_status WHERE parent_uuid IS NOT NULL`);
    expect(children.map((c) => c.version)).toEqual([hashes[3]]);
    await stop(executor);
  });

  it('two processes on different versions adopt each other\'s workflows and run each on its own version', { timeout: 150_000 }, async () => {
    const app = await prepareVersionedApp('vdeploy2');
    apps.push(app);
    const workflows: Started[] = [];
    const v1 = await serve(app);
    workflows.push(await startOn(v1, 1, 'one-a'));
    await stop(v1);

    await app.deploy(2);
    const older = await serve(app);
    workflows.push(await startOn(older, 2, 'two-a'), await startOn(older, 2, 'two-sleep', 'sleep', 20));
    await app.deploy(3);
    const newer = await serve(app);
    workflows.push(await startOn(newer, 3, 'three-a'), await startOn(newer, 3, 'three-b'));

    // The newer one stops: the older process adopts v3's workflows and runs them on v3 (newer code than its own).
    await stop(newer);
    await expectOwnedBy(app, older, ['three-a', 'three-b']);
    // v3's child workflow is started (after the message) by v3 code running in the v2 process.
    await call(older, '/go', { id: 'three-a' });
    expect(await call(older, '/result', { id: 'three-a' })).toBe(expectedResult(3, 'three-a'));

    // A v3 process again; the older one is killed outright: the v3 process adopts v1's and v2's workflows.
    const again = await serve(app);
    older.signal('SIGKILL');
    await older.server.exited;
    await expectOwnedBy(app, again, ['one-a', 'two-a', 'two-sleep', 'three-b'], 20_000);
    await finishAll(again, workflows.filter((wf) => wf.id !== 'three-a'));
    expect(older.output()).toMatch(/loaded version \w+ beside/);
    expect(again.output()).toMatch(/loaded version \w+ beside/);
    await stop(again);
  });
});

/** Waits until every one of `ids` still PENDING is owned by `executor`'s instance (a sleep may end first on a slow machine). */
async function expectOwnedBy(app: VersionedApp, executor: FleetProcess, ids: readonly string[], timeoutMs = 10_000): Promise<void> {
  const giveUpAt = Date.now() + timeoutMs;
  for (;;) {
    const rows = await sys<{ n: number }>(
      app,
      `SELECT count(*)::int AS n FROM operon.workflow_status w JOIN operon.executors e ON e.instance_id = w.owner
       WHERE w.workflow_uuid = ANY($1) AND ((e.pid = $2 AND e.state = 'live') OR w.status <> 'PENDING')`,
      [ids, executor.pid],
    );
    if (rows[0]!.n === ids.length) return;
    if (Date.now() > giveUpAt) throw new Error(`${ids.join(', ')} not adopted by pid ${executor.pid}:\n${executor.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
