/**
 * Retention deletes the runs of ticks older than `management.retentionDays`, so a backfill of such
 * a window cannot tell a tick that ran from one that never did: it starts them again. The CLI
 * refuses such a window with one clear line (exit code 2) naming the retention period and the
 * oldest instant it may start from, and starts nothing.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertCliBuilt } from '../cli/cli-process.js';
import { prepareFleetApp, runOperon, sys, type FleetApp } from '../executors/fleet.js';

const DAY_MS = 24 * 3_600_000;
let app: FleetApp;

beforeAll(async () => {
  assertCliBuilt();
  app = await prepareFleetApp('bfretain', {}, 'test/schedules/app');
  const config = JSON.parse(readFileSync(app.configFile, 'utf8'));
  writeFileSync(app.configFile, `${JSON.stringify({ ...config, management: { retentionDays: 1 } }, null, 2)}\n`);
}, 120_000);

afterAll(() => app?.remove());

describe('operon schedules backfill past retention', () => {
  it('refuses a window older than management.retentionDays and starts nothing', async () => {
    const end = Math.floor((Date.now() - 3 * DAY_MS) / 1000) * 1000;
    const result = await runOperon(
      ['schedules', 'backfill', 'Ticks.everySecond', '--from', new Date(end - 2_000).toISOString(), '--to', new Date(end).toISOString(), '-c', app.configFile],
      { cwd: app.dir, timeoutMs: 60_000 },
    );
    expect(result.code, result.stdout).toBe(2);
    expect(result.stderr).toMatch(/--from .* is older than the retention period \(management\.retentionDays: 1\)/);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(await sys(app, "SELECT count(*)::int AS n FROM operon.workflow_status WHERE workflow_name = 'Ticks.everySecond'")).toEqual([{ n: 0 }]);
  }, 120_000);
});
