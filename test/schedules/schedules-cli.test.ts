/**
 * `operon schedules` lists the app's schedules with their last and next tick (from the config,
 * no server); `operon schedules backfill` starts the runs of a window's ticks once however often
 * it is called, and a running executor takes them over; bad arguments are one clear line and
 * exit code 2. `GET /operon/schedules` answers the same shape to a management identity only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Scheduled, Workflow, type WorkflowContext } from '@operon/sdk';
import { createHttpServer, managementAccess } from '@operon/runtime';
import { assertCliBuilt } from '../cli/cli-process.js';
import { killAll, prepareFleetApp, runOperon, startExecutor, sys, waitUntil, type FleetApp, type FleetProcess } from '../executors/fleet.js';
import { startRuntime } from '../helpers/test-databases.js';

let app: FleetApp;
const executors: FleetProcess[] = [];

beforeAll(async () => {
  assertCliBuilt();
  app = await prepareFleetApp('schedcli', {}, 'test/schedules/app');
}, 120_000);

afterAll(async () => {
  await killAll(executors);
  app?.remove();
});

const operon = (args: string[]) => runOperon([...args, '-c', app.configFile], { cwd: app.dir, timeoutMs: 60_000 });

describe('operon schedules', () => {
  it('lists, backfills once however often it is called, and refuses bad arguments', async () => {
    const end = Math.floor(Date.now() / 1000) * 1000 - 60_000;
    const window = ['--from', new Date(end - 9_000).toISOString(), '--to', new Date(end).toISOString()];
    // Each call is a process of its own: the ones that write nothing run side by side.
    const refusals = [
      [['Ticks.nope', ...window], /"Ticks\.nope" is not a schedule of this app; its schedules are Ticks\.everySecond/],
      [['Ticks.everySecond', '--from', 'yesterday', '--to', new Date(end).toISOString()], /--from must be an ISO 8601 instant with its offset/],
      [['Ticks.everySecond', '--from', new Date(end).toISOString(), '--to', new Date(end - 1_000).toISOString()], /--to .* is before --from/],
      [['Ticks.everySecond', '--from', new Date(end).toISOString(), '--to', new Date(Date.now() + 3_600_000).toISOString()], /--to .* is in the future/],
      [['Ticks.everySecond', '--from', '2020-01-01T00:00:00Z', '--to', '2020-01-02T00:00:00Z'], /more than 10000 ticks .*narrower windows/],
    ] as const;
    const listedFrom = Date.now();
    const [before, ...refused] = await Promise.all([operon(['schedules', '--json']), ...refusals.map(([args]) => operon(['schedules', 'backfill', ...args]))]);
    expect(before!.code, before!.stderr).toBe(0);
    const [view] = JSON.parse(before!.stdout);
    expect(view).toMatchObject({ name: 'Ticks.everySecond', crontab: '* * * * * *', timezone: 'UTC', catchUp: 'none', maxCatchUp: 100, lastTick: null });
    expect(Date.parse(view.nextTick)).toBeGreaterThan(listedFrom - 1_000);
    refusals.forEach(([, message], i) => {
      expect(refused[i]!.code, refused[i]!.stdout).toBe(2);
      expect(refused[i]!.stderr).toMatch(message);
      expect(refused[i]!.stderr.trim().split('\n')).toHaveLength(1);
    });

    const first = await operon(['schedules', 'backfill', 'Ticks.everySecond', ...window]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^Ticks\.everySecond: 10 ticks from .*; 10 runs started \(the running executors take them over\), 0 existed already\n$/);
    const again = await operon(['schedules', 'backfill', 'Ticks.everySecond', ...window]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/; 0 runs started .*, 10 existed already\n$/);

    // A running executor adopts the runs the backfill handed over, and runs each once.
    executors.push(await startExecutor(app));
    const uuids = Array.from({ length: 10 }, (_, i) => `Ticks.everySecond~s${new Date(end - 9_000 + i * 1_000).toISOString()}`);
    const done = await waitUntil(async () => {
      const rows = await sys(app, "SELECT status FROM operon.workflow_status WHERE workflow_uuid = ANY($1) AND status = 'SUCCESS'", [uuids]);
      return rows.length === 10;
    }, 30_000, 500);
    expect(done).toBe(true);
    // Its scheduler has recorded a last tick by then (the backfill registers no schedule).
    const table = await operon(['schedules']);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(/^SCHEDULE\s+CRONTAB\s+TIMEZONE\s+CATCH UP\s+LAST TICK\s+NEXT TICK$/);
    expect(table.stdout).toMatch(/Ticks\.everySecond\s+\* \* \* \* \* \*\s+UTC\s+none\s+\d{4}-\d\d-\d\dT\S+Z\s+\d{4}-\d\d-\d\dT\S+Z\n/);
    expect(await sys(app, "SELECT count(*)::int AS n FROM operon.workflow_status WHERE workflow_name = 'Ticks.everySecond' AND workflow_uuid < $1", [`Ticks.everySecond~s${new Date(end + 1).toISOString()}`])).toEqual([{ n: 10 }]);
  }, 180_000);
});

class Nightly {
  @Scheduled({ crontab: '0 3 * * *', timezone: 'Europe/London', catchUp: 'all', maxCatchUp: 7 })
  @Workflow()
  static async run(_ctx: WorkflowContext, _scheduledTime: Date, _startTime: Date): Promise<void> {}
}

describe('GET /operon/schedules', () => {
  it('answers each schedule with its last and next tick to a management identity, and refuses other callers', async () => {
    const runtime = await startRuntime([Nightly]);
    const server = await createHttpServer(runtime);
    try {
      const ok = await server.inject({ method: 'GET', url: '/operon/schedules', headers: { authorization: `Bearer ${managementAccess(runtime).token}` } });
      expect(ok.statusCode).toBe(200);
      const [view] = ok.json();
      expect(view).toMatchObject({ name: 'Nightly.run', crontab: '0 3 * * *', timezone: 'Europe/London', catchUp: 'all', maxCatchUp: 7, lastTick: null });
      const next = new Date(view.nextTick);
      expect(new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/London', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(next)).toBe('03:00');
      expect(next.getTime() - Date.now()).toBeLessThanOrEqual(25 * 3_600_000);
      expect((await server.inject({ method: 'GET', url: '/operon/schedules' })).statusCode).toBe(401);
    } finally {
      await server.close();
      await runtime.destroy();
    }
  });
});
