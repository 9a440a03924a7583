/**
 * A live executor is declared dead by a process on the same host name that cannot see its pid.
 *
 * At start, an executor declares dead every live executor registered under its own host name
 * whose pid does not exist (executor-lease.ts, goneOnThisHost: `!processExists(row.pid)`), and
 * adopts its workflows at once. A host name and a pid do not name a process: containers started
 * with `--network host` (or given one `hostname`) share the host name and have pid namespaces of
 * their own, so each sees the others' pids as gone. The newcomer takes the live executor's running
 * workflows, their in-flight communicators run twice, and the live one is fenced although it
 * never paused.
 *
 * Reproduction: executor A runs 10 workflows of three 2 s communicators; executor B starts on the
 * same host in a pid namespace of its own (`unshare --pid --fork`). Expected: A stays live, B
 * adopts nothing, no communicator starts twice.
 */
import { describe, expect, it } from 'vitest';
import {
  allEnded,
  instanceOf,
  sideEvents,
  startExecutor,
  startWorkflows,
  statusCounts,
  sys,
  type FleetProcess,
} from '../executors/fleet.js';
import { useFleet } from '../helpers/fleet-scaffold.js';

const fleet = useFleet('regpidns');
const { executors } = fleet;

describe('a second executor in another pid namespace on the same host name', () => {
  it('does not declare the first one dead nor take its running workflows', async () => {
    const [a] = executors as [FleetProcess];
    const aInstance = await instanceOf(fleet.app, a.pid);
    const uuids = await startWorkflows(a, 'steps', 10, [3, 2_000]);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const b = await startExecutor(fleet.app, { wrapper: ['unshare', '--pid', '--fork', '--kill-child'] });
    executors.push(b);
    const [{ state }] = await sys<{ state: string }>(fleet.app, 'SELECT state FROM operon.executors WHERE instance_id = $1', [aInstance]);
    expect(await allEnded(fleet.app, uuids, 30_000)).toBe(true);
    const starts = new Map<string, number>();
    for (const e of sideEvents(fleet.app)) if (e.ev === 'start') starts.set(`${e.uuid}/${e.step}`, (starts.get(`${e.uuid}/${e.step}`) ?? 0) + 1);
    const twice = [...starts].filter(([, n]) => n > 1).length;
    const adopted = [...b.output().matchAll(/(?:adopted|recovered) (\d+) (?:pending )?workflows/g)].map((m) => Number(m[1]));
    console.log(
      `[regression] B in its own pid namespace: A's state after B started "${state}"; B adopted/recovered ${JSON.stringify(adopted)}; ` +
        `steps started twice ${twice}; A fenced lines ${a.output().split('\n').filter((l) => /was fenced/.test(l)).length}; ${JSON.stringify(await statusCounts(fleet.app, uuids))}`,
    );
    expect(state).toBe('live');
    expect(twice).toBe(0);
  }, 60_000);
});
