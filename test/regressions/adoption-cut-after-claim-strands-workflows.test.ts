/**
 * A connection lost between an adoption's claim and its fence strands the claimed workflows.
 *
 * Adoption is two statements in two databases (system-database.ts, claimWorkflows): the claim
 * (system database: owner := the adopter, committed) and then the fence of their transactions
 * (app database: workflow_owners). If the second fails (a Postgres restart, a dropped
 * connection), adopt() throws and logs "trying again at the next heartbeat". But the next
 * heartbeat lists only instances that are not live and still own PENDING workflows: the claimed
 * workflows are owned by the adopter, which is live, so nobody ever lists them again. They stay
 * PENDING, owned by a live executor that does not run them, until that process restarts.
 *
 * Reproduction: executors A and B; 10 workflows on A wait in a gated communicator; A is
 * SIGKILLed; a one-shot trigger in the app database terminates the session of the first
 * statement that writes workflow_owners (B's fence, right after its claim committed), as a
 * Postgres restart at that moment would. The trigger disarms itself; the gate opens. Expected:
 * all 10 complete (B or the next heartbeat takes them up again).
 */
import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  allEnded,
  appDb,
  instanceOf,
  sideEvents,
  startExecutor,
  startWorkflows,
  statusCounts,
  sys,
  waitUntil,
  type FleetProcess,
} from '../executors/fleet.js';
import { useFleet } from '../helpers/fleet-scaffold.js';

const fleet = useFleet('regcut', (app) => Promise.all([startExecutor(app), startExecutor(app)]));
const { executors } = fleet;

describe('the adopter loses its connection right after its claim', () => {
  it('still runs the claimed workflows to their end', async () => {
    const [a, b] = executors as [FleetProcess, FleetProcess];
    const bInstance = await instanceOf(fleet.app, b.pid);
    const uuids = await startWorkflows(a, 'gatedThenWrite', 10, []);
    expect(await waitUntil(() => sideEvents(fleet.app).filter((e) => e.ev === 'start').length === 10, 10_000)).toBe(true);
    // One-shot (a sequence is not rolled back with the session it kills): the first fence write dies.
    await appDb(
      fleet.app,
      `CREATE SEQUENCE fence_trap;
       CREATE FUNCTION fence_trap() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF nextval('fence_trap') = 1 THEN
           PERFORM pg_terminate_backend(pg_backend_pid());
           PERFORM pg_sleep(5);
         END IF;
         RETURN NEW;
       END $$;
       CREATE TRIGGER fence_trap BEFORE INSERT ON operon.workflow_owners FOR EACH ROW EXECUTE FUNCTION fence_trap();`,
    );
    a.signal('SIGKILL');
    await a.server.exited;
    await b.server.waitFor(/adopting workflows failed/, 20_000);
    const [{ claimed }] = await sys<{ claimed: number }>(fleet.app, 'SELECT count(*)::int AS claimed FROM operon.workflow_status WHERE workflow_uuid = ANY($1) AND owner = $2', [uuids, bInstance]);
    writeFileSync(fleet.app.gate, '');
    const ended = await allEnded(fleet.app, uuids, 20_000);
    const counts = await statusCounts(fleet.app, uuids);
    const [{ pending }] = await sys<{ pending: number }>(fleet.app, `SELECT count(*)::int AS pending FROM operon.workflow_status WHERE workflow_uuid = ANY($1) AND owner = $2 AND status = 'PENDING'`, [uuids, bInstance]);
    const [{ state }] = await sys<{ state: string }>(fleet.app, 'SELECT state FROM operon.executors WHERE instance_id = $1', [bInstance]);
    console.log(
      `[regression] fence cut after the claim: ${claimed} claimed by B before the cut; 20 s after the gate opened ${JSON.stringify(counts)}, ` +
        `${pending} PENDING owned by B (state ${state}), communicator runs after the gate ${sideEvents(fleet.app).filter((e) => e.ev === 'done').length}`,
    );
    expect(ended, JSON.stringify(counts)).toBe(true);
    expect(counts).toEqual({ SUCCESS: 10 });
  }, 90_000);
});
