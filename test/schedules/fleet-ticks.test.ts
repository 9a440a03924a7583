/**
 * Real `operon start` processes on one Postgres running a 1-second schedule (`catchUp: 'none'`).
 * - One process paused (SIGSTOP) for 8 s, then resumed: it does not replay the ticks it slept
 *   through, only those within the lateness bound (3 s) of its waking.
 * - Three processes for SOAK seconds (15 in the suite; OPERON_SCHEDULE_SOAK_SECONDS=60 for the
 *   long run), the one running the latest tick's run SIGKILLed mid-run and started again, as soon as
 *   all three serve: every tick of the window
 *   has exactly one run, none missing, each ended SUCCESS once (runs the dead held are adopted), and
 *   each run was handed Dates, also when a recovered run replayed it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertCliBuilt } from '../cli/cli-process.js';
import { killAll, prepareFleetApp, spawnExecutor, startExecutor, sys, waitUntil, type FleetApp, type FleetProcess } from '../executors/fleet.js';

const SOAK_MS = Number(process.env.OPERON_SCHEDULE_SOAK_SECONDS ?? 15) * 1_000;
const PAUSE_MS = 8_000;
const LATE_MS = 3_000;

let app: FleetApp;
const executors: FleetProcess[] = [];

beforeAll(async () => {
  assertCliBuilt();
  app = await prepareFleetApp('schedfleet', {}, 'test/schedules/app');
}, 120_000);

afterAll(async () => {
  await killAll(executors);
  app?.remove();
});

interface Run {
  tick: number;
  status: string;
  output: { scheduledTime: string; dates: boolean; pid: number } | null;
}

async function runsBetween(from: number, until: number): Promise<Run[]> {
  const rows = await sys<{ workflow_uuid: string; status: string; output: string | null }>(
    app,
    "SELECT workflow_uuid, status, output FROM operon.workflow_status WHERE workflow_name = 'Ticks.everySecond'",
  );
  return rows
    .map((r) => ({ tick: Date.parse(r.workflow_uuid.split('~s')[1]!), status: r.status, output: r.output === null ? null : JSON.parse(r.output) }))
    .filter((r) => r.tick > from && r.tick <= until)
    .sort((a, b) => a.tick - b.tick);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const seconds = (from: number, until: number) => {
  const ticks: number[] = [];
  for (let t = Math.floor(from / 1000) * 1000 + 1000; t <= until; t += 1000) ticks.push(t);
  return ticks;
};

describe('a 1-second schedule on real processes', () => {
  it('a paused process does not replay every tick it slept through under catchUp none', async () => {
    const only = await startExecutor(app);
    executors.push(only);
    await sleep(2_000);
    only.signal('SIGSTOP');
    const pausedAt = Date.now();
    await sleep(PAUSE_MS);
    const resumedAt = Date.now();
    only.signal('SIGCONT');
    await sleep(4_000);
    const slept = await runsBetween(pausedAt + 1_000, resumedAt - 1_000);
    console.log(`paused ${resumedAt - pausedAt} ms: ${slept.length} runs for the ${seconds(pausedAt + 1_000, resumedAt - 1_000).length} ticks it slept through`);
    // Only ticks within LATE_MS of waking run late; the earlier ones are missed, by policy.
    expect(slept.filter((r) => r.tick < resumedAt - LATE_MS - 1_000)).toEqual([]);
    // And it goes on: the ticks after waking run.
    const after = await runsBetween(resumedAt + 1_000, Date.now() - 1_500);
    expect(after.map((r) => r.tick)).toEqual(seconds(resumedAt + 1_000, Date.now() - 1_500).filter((t) => t <= after.at(-1)!.tick));
    await only.server.kill('SIGKILL');
  }, 60_000);

  it(`three processes, one killed mid-tick every few seconds and restarted, give exactly one run per tick for ${SOAK_MS / 1000} s`, async () => {
    const fleet = await Promise.all([0, 1, 2].map(() => startExecutor(app)));
    executors.push(...fleet);
    const from = Date.now();
    let kills = 0;
    let killedHolders = 0;
    // Each slot's process is serving once its promise settles: a kill only ever hits a serving
    // process, so two always run the ticks while the third restarts.
    const serving = fleet.map(() => Promise.resolve());
    while (Date.now() - from < SOAK_MS - 4_000) {
      await Promise.all(serving);
      // Mid-tick: 300 ms after a second began, while its run is in its 600 ms communicator.
      await sleep(1_000 + ((1_300 - (Date.now() % 1_000)) % 1_000));
      if (Date.now() - from >= SOAK_MS - 3_000) break;
      // The process that won the latest tick, while its run is in flight (else the next in turn).
      const holders = await sys<{ pid: number }>(
        app,
        `SELECT e.pid FROM operon.workflow_status w JOIN operon.executors e ON e.instance_id = w.owner
         WHERE w.workflow_name = 'Ticks.everySecond' AND w.status = 'PENDING' ORDER BY w.workflow_uuid DESC LIMIT 1`,
      );
      const victim = fleet.find((p) => p.pid === holders[0]?.pid) ?? fleet[kills % fleet.length]!;
      if (victim.pid === holders[0]?.pid) killedHolders++;
      victim.signal('SIGKILL');
      await victim.server.exited;
      kills++;
      // Started again at once; the next kill waits until it serves.
      const replacement = await spawnExecutor(app);
      executors.push(replacement);
      const slot = fleet.indexOf(victim);
      fleet[slot] = replacement;
      serving[slot] = replacement.server.waitFor(/operon: serving on/, 60_000).then(() => undefined);
    }
    await sleep(Math.max(0, from + SOAK_MS - Date.now()));
    const until = Date.now();
    const expected = seconds(from, until - 1_000);
    // Runs the killed processes held are adopted within 10 s of their last heartbeat.
    const ended = await waitUntil(async () => {
      const runs = await runsBetween(from, until - 1_000);
      return runs.length === expected.length && runs.every((r) => r.status === 'SUCCESS');
    }, 30_000, 500);
    const runs = await runsBetween(from, until - 1_000);
    const pids = new Set(runs.map((r) => r.output?.pid));
    console.log(`${until - from} ms, ${kills} kills (${killedHolders} of a run's owner mid-run): ${runs.length} runs for ${expected.length} ticks, finished by ${pids.size} processes`);
    expect(runs.map((r) => r.tick), 'one run per tick, none missing').toEqual(expected);
    expect(ended, JSON.stringify(runs.filter((r) => r.status !== 'SUCCESS'))).toBe(true);
    for (const run of runs) expect(run.output).toMatchObject({ scheduledTime: new Date(run.tick).toISOString(), dates: true });
    expect(kills).toBeGreaterThanOrEqual(1);
    expect(killedHolders, 'no kill hit a process with a run in flight').toBeGreaterThanOrEqual(1);
    expect(pids.size).toBeGreaterThanOrEqual(2);
  }, 180_000);
});
