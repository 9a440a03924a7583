/**
 * Regression: `ctx.retrieveWorkflow(id).getStatus()` inside a workflow read the database each
 * time and recorded nothing, so a recovered run saw another status than the first run had (the
 * other workflow had ended in between) and could take another branch. The read is now an
 * operation: a re-run sees what the first run saw.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleFixture, spawnApp, type ChildApp } from '../helpers/child-app.js';
import { within, writeAppDir, type AppDir } from '../helpers/app-dir.js';

let app: AppDir;
let bundle: string;
let dir: string;

/** Every child this file started: killed at the end, whatever a failed assertion left running. */
const children: ChildApp[] = [];
const track = (child: ChildApp) => (children.push(child), child);

beforeAll(async () => {
  app = writeAppDir('statusread');
  bundle = await bundleFixture('status-read-child.ts');
  dir = mkdtempSync(join(tmpdir(), 'operon-status-read-'));
  writeFileSync(join(dir, 'side.log'), '');
});

afterAll(async () => {
  await Promise.all(children.map((c) => c.kill()));
  app?.remove();
  if (bundle) rmSync(bundle, { force: true });
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('a workflow reading another workflow’s status', () => {
  it('sees, when recovered, the status its first run saw, though that status changed since', async () => {
    const sideLog = join(dir, 'side.log');
    const child = (run: number) => track(spawnApp(bundle, { STATUS_CONFIG: app.configPath, STATUS_RUN: String(run), STATUS_SIDE_LOG: sideLog }));

    const first = child(1);
    expect(await within(first.exited, 20_000, 'still running after 20 s'), first.output()).toBe('SIGKILL');
    // The other workflow ended between the first run's read and the recovery.
    expect(first.output()).toMatch(/^TARGET SUCCESS$/m);

    const second = child(2);
    const line = await second.waitForLine(/^RESULT /, 20_000);
    expect(await within(second.exited, 20_000, 'still running after 20 s'), second.output()).toBe(0);

    const executions = readFileSync(sideLog, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { run: number; saw: unknown });
    expect(executions).toEqual([
      { run: 1, saw: null },
      { run: 2, saw: null },
    ]);
    expect(JSON.parse(line.slice('RESULT '.length))).toBeNull();
  });
});
