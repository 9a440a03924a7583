/**
 * A stale adopter's app-database fence overrides the newer owner's, and the workflow is stranded.
 *
 * Adoption claims a workflow in the system database, then writes its transactions' owner in the
 * app database with an unconditional upsert (transaction-outputs.ts, fenceTransactions:
 * `ON CONFLICT (workflow_uuid) DO UPDATE SET owner = EXCLUDED.owner`). If the adopter is paused
 * or slow between the two statements, a newer adopter may claim the workflow and fence it first;
 * the stale fence then lands and names the old adopter. The newer owner's next transaction fails
 * the fence (OP001), it abandons the workflow as fenced, and nobody runs it again: the system
 * database says a live executor owns it.
 *
 * Reproduction: workflows on A wait in a gated communicator; A is SIGKILLed. B starts and claims
 * them; a one-shot trigger delays B's app-database fence by 12 s (B paused between its two
 * statements); B is SIGKILLed meanwhile (the statement still runs at the server). C starts, claims
 * them from the dead B and fences them. B's fence lands afterwards. The gate opens; C's
 * transaction step follows. Expected: all complete (a fence write only moves ownership forward,
 * or the system database's owner decides).
 */
import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  allEnded,
  appDb,
  instanceOf,
  sideEvents,
  spawnExecutor,
  startExecutor,
  startWorkflows,
  statusCounts,
  sys,
  waitUntil,
  type FleetProcess,
} from '../executors/fleet.js';
import { useFleet } from '../helpers/fleet-scaffold.js';

const WORKFLOWS = 10;
const fleet = useFleet('regstale');
const { executors } = fleet;

const ownedBy = async (uuids: string[], instance: string): Promise<number> =>
  (await sys<{ n: number }>(fleet.app, 'SELECT count(*)::int AS n FROM operon.workflow_status WHERE workflow_uuid = ANY($1) AND owner = $2', [uuids, instance]))[0]!.n;

describe('a stale adopter\'s fence landing after a newer one\'s', () => {
  it('does not strand the workflows', async () => {
    const [a] = executors as [FleetProcess];
    const uuids = await startWorkflows(a, 'gatedThenWrite', WORKFLOWS, []);
    expect(await waitUntil(() => sideEvents(fleet.app).filter((e) => e.ev === 'start').length === WORKFLOWS, 10_000)).toBe(true);
    await appDb(
      fleet.app,
      `CREATE SEQUENCE fence_delay;
       CREATE FUNCTION fence_delay() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF nextval('fence_delay') = 1 THEN PERFORM pg_sleep(12); END IF;
         RETURN NEW;
       END $$;
       CREATE TRIGGER fence_delay BEFORE INSERT ON operon.workflow_owners FOR EACH ROW EXECUTE FUNCTION fence_delay();`,
    );
    a.signal('SIGKILL');
    await a.server.exited;

    // B adopts A's workflows as it starts; its fence hangs in the trigger.
    const b = await spawnExecutor(fleet.app);
    executors.push(b);
    let bInstance = '';
    expect(
      await waitUntil(async () => {
        bInstance = await instanceOf(fleet.app, b.pid).catch(() => '');
        return bInstance !== '' && (await ownedBy(uuids, bInstance)) === WORKFLOWS;
      }, 20_000, 50),
      'B claimed the workflows',
    ).toBe(true);
    const bClaimedAt = Date.now();
    b.signal('SIGKILL');
    await b.server.exited;

    const c = await startExecutor(fleet.app);
    executors.push(c);
    const cInstance = await instanceOf(fleet.app, c.pid);
    expect(await ownedBy(uuids, cInstance), 'C claimed the workflows from the dead B').toBe(WORKFLOWS);
    const staleLanded = await waitUntil(async () => {
      const [{ n }] = await appDb<{ n: number }>(fleet.app, 'SELECT count(*)::int AS n FROM operon.workflow_owners WHERE workflow_uuid = ANY($1) AND owner = $2', [uuids, bInstance]);
      return n > 0;
    }, 20_000);
    const staleLandedAt = Date.now();
    const appOwners = await appDb<{ owner: string; n: number }>(fleet.app, 'SELECT owner, count(*)::int AS n FROM operon.workflow_owners WHERE workflow_uuid = ANY($1) GROUP BY owner', [uuids]);
    writeFileSync(fleet.app.gate, '');
    const ended = await allEnded(fleet.app, uuids, 20_000);
    const counts = await statusCounts(fleet.app, uuids);
    console.log(
      `[regression] stale fence: B's fence landed ${staleLanded ? 'after' : 'never, before'} C's (seen ${staleLandedAt - bClaimedAt} ms after B's claim); ` +
        `app-database owners ${JSON.stringify(appOwners.map((o) => ({ owner: o.owner === bInstance ? 'B (dead)' : o.owner === cInstance ? 'C' : o.owner, n: o.n })))}; ` +
        `system-database owner C for ${await ownedBy(uuids, cInstance)}; 20 s after the gate ${JSON.stringify(counts)}; ` +
        `C fenced lines ${c.output().split('\n').filter((l) => /was fenced/.test(l)).length}`,
    );
    expect(ended, JSON.stringify(counts)).toBe(true);
    expect(counts).toEqual({ SUCCESS: WORKFLOWS });
  }, 90_000);
});
