/**
 * An executor that may not end the sessions of the executor it declares dead fails its whole
 * heartbeat, every time: its own lease lapses, and the dead executor's workflows are never
 * adopted.
 *
 * The heartbeat (system-db/executors.ts:100, and setExecutorState at :127) ends the sessions of
 * every executor it declares dead with pg_terminate_backend, inside the one statement that also
 * renews its own lease and lists the work to adopt. pg_terminate_backend raises an ERROR (it does
 * not return false) when the caller's role may not signal the backend: a backend of a superuser
 * when the caller is not one, or of another role the caller has no privileges of (unless it is in
 * pg_signal_backend). Executors of one fleet connecting as different roles is ordinary: a
 * credential rotation (pods of user_v1 and user_v2 side by side), or one run by an admin. Then,
 * from the moment a paused executor's lease lapses, every heartbeat of the others raises, rolls
 * back (their own renewal with it) and is retried at the next interval, forever: they are
 * "database away" for good, their own running workflows stop at their next step, and nobody
 * adopts the paused one's workflows. The termination is best effort by nature and must not be
 * able to fail the heartbeat.
 *
 * Reproduction: two roles with the same privileges (members of the test server's owner role, so
 * both may do everything the app needs), neither a superuser nor a member of the other. Executor
 * A runs as one, executor B as the other. A starts 3 workflows that sleep 2 s and is SIGSTOPped
 * once their sleeps are recorded. Expected: B adopts and ends them within the lease and a few
 * heartbeats (20 s).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { assertCliBuilt } from '../cli/cli-process.js';
import { allEnded, configVariant, killAll, prepareFleetApp, startExecutor, startWorkflows, statusCounts, sys, waitUntil, type FleetApp, type FleetProcess } from '../executors/fleet.js';
import { query } from '../helpers/test-databases.js';

let app: FleetApp;
const executors: FleetProcess[] = [];
const suffix = randomBytes(3).toString('hex');
const roles = [`fleet_v1_${suffix}`, `fleet_v2_${suffix}`];
const password = randomBytes(12).toString('hex');

beforeAll(async () => {
  assertCliBuilt();
  app = await prepareFleetApp('regroles');
  const owner = inject('postgres').user;
  for (const role of roles) await query('postgres', `CREATE ROLE ${role} LOGIN NOSUPERUSER PASSWORD '${password}' IN ROLE "${owner}"`);
  for (const [i, role] of roles.entries()) {
    const configFile = configVariant(app, `role${i}`, { username: role, password });
    executors.push(await startExecutor(app, { configFile }));
  }
}, 90_000);

afterAll(async () => {
  await killAll(executors);
  app?.remove();
  for (const role of roles) await query('postgres', `DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
});

describe('executors that connect as different roles', () => {
  it('adopt the workflows of a paused one', async () => {
    const [a, b] = executors as [FleetProcess, FleetProcess];
    const uuids = await startWorkflows(a, 'sleepThenWork', 3, [2]);
    expect(
      await waitUntil(async () => {
        const [{ n }] = await sys<{ n: number }>(app, 'SELECT count(*)::int AS n FROM operon.operation_outputs WHERE workflow_uuid = ANY($1)', [uuids]);
        return n === 3;
      }, 10_000, 50),
    ).toBe(true);
    a.signal('SIGSTOP');
    const ended = await allEnded(app, uuids, 20_000);
    const failedBeats = b.output().split('\n').filter((line) => line.includes('executor heartbeat failed'));
    console.log(
      `[regression] A (role ${roles[0]}) paused: its 3 workflows ${JSON.stringify(await statusCounts(app, uuids))} after 20 s; ` +
        `B (role ${roles[1]}) logged ${failedBeats.length} failed heartbeats${failedBeats[0] ? `, the first: ${failedBeats[0].slice(0, 400)}` : ''}`,
    );
    expect(ended, 'the paused executor\'s workflows ended by B').toBe(true);
    expect(failedBeats, 'B heartbeats that failed').toEqual([]);
  }, 60_000);
});
