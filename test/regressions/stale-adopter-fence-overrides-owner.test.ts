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
 * them; a one-shot trigger holds B's app-database fence (B paused between its two statements) on
 * an advisory lock the test holds; B is SIGKILLed meanwhile (the statement still runs at the
 * server). C starts, claims them from the dead B and fences them; only then does the test let go
 * of the lock, so B's fence lands afterwards however long C took to start. The gate opens; C's
 * transaction step follows. Expected: all complete (a fence write only moves ownership forward,
 * or the system database's owner decides).
 */
import { writeFileSync } from 'node:fs';
import type pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
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
import { connectTo } from '../helpers/test-databases.js';

const WORKFLOWS = 10;
/** The advisory lock B's fence waits on until the test releases it. */
const FENCE_HOLD = 4_242_001;
const fleet = useFleet('regstale');
let holder: pg.Client | undefined;
afterAll(() => holder?.end());
const { executors } = fleet;

const ownedBy = async (uuids: string[], instance: string): Promise<number> =>
  (await sys<{ n: number }>(fleet.app, 'SELECT count(*)::int AS n FROM operon.workflow_status WHERE workflow_uuid = ANY($1) AND owner = $2', [uuids, instance]))[0]!.n;

describe('a stale adopter\'s fence landing after a newer one\'s', () => {
  it('does not strand the workflows', async () => {
    const [a] = executors as [FleetProcess];
    const uuids = await startWorkflows(a, 'gatedThenWrite', WORKFLOWS, []);
    expect(await waitUntil(() => sideEvents(fleet.app).filter((e) => e.ev === 'start').length === WORKFLOWS, 10_000)).toBe(true);
    holder = await connectTo(fleet.app.appDatabase);
    await holder.query('SELECT pg_advisory_lock($1)', [FENCE_HOLD]);
    await appDb(
      fleet.app,
      `CREATE SEQUENCE fence_delay;
       CREATE FUNCTION fence_delay() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF nextval('fence_delay') = 1 THEN PERFORM pg_advisory_lock(${FENCE_HOLD}); PERFORM pg_advisory_unlock(${FENCE_HOLD}); END IF;
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
    // B's fence reached the server and waits on the lock in its trigger.
    let fenceBackend: number | undefined;
    expect(
      await waitUntil(async () => {
        const rows = await appDb<{ pid: number }>(fleet.app, "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND NOT granted", [FENCE_HOLD]);
        fenceBackend = rows[0]?.pid;
        return fenceBackend !== undefined;
      }, 20_000, 50),
      'B\'s fence waits in the trigger',
    ).toBe(true);
    b.signal('SIGKILL');
    await b.server.exited;

    const c = await startExecutor(fleet.app);
    executors.push(c);
    const cInstance = await instanceOf(fleet.app, c.pid);
    expect(await ownedBy(uuids, cInstance), 'C claimed the workflows from the dead B').toBe(WORKFLOWS);
    expect(
      await waitUntil(async () => {
        const [{ n }] = await appDb<{ n: number }>(fleet.app, 'SELECT count(*)::int AS n FROM operon.workflow_owners WHERE workflow_uuid = ANY($1) AND owner = $2', [uuids, cInstance]);
        return n === WORKFLOWS;
      }, 20_000, 50),
      'C fenced the workflows in the app database',
    ).toBe(true);
    // B's fence, held since B claimed, goes on now, after C's; its statement is over once its session no longer runs it.
    await holder.query('SELECT pg_advisory_unlock($1)', [FENCE_HOLD]);
    expect(
      await waitUntil(async () => {
        const rows = await appDb(fleet.app, "SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND state = 'active'", [fenceBackend]);
        return rows.length === 0;
      }, 20_000, 50),
      'B\'s fence statement ended',
    ).toBe(true);
    const [{ n: staleRows }] = await appDb<{ n: number }>(fleet.app, 'SELECT count(*)::int AS n FROM operon.workflow_owners WHERE workflow_uuid = ANY($1) AND owner = $2', [uuids, bInstance]);
    const staleLanded = staleRows > 0;
    const staleLandedAt = Date.now();
    const appOwners = await appDb<{ owner: string; n: number }>(fleet.app, 'SELECT owner, count(*)::int AS n FROM operon.workflow_owners WHERE workflow_uuid = ANY($1) GROUP BY owner', [uuids]);
    writeFileSync(fleet.app.gate, '');
    const ended = await allEnded(fleet.app, uuids, 20_000);
    const counts = await statusCounts(fleet.app, uuids);
    console.log(
      `[regression] stale fence: B's fence ran after C's and ${staleLanded ? 'overrode' : 'did not override'} it (its statement ended ${staleLandedAt - bClaimedAt} ms after B's claim); ` +
        `app-database owners ${JSON.stringify(appOwners.map((o) => ({ owner: o.owner === bInstance ? 'B (dead)' : o.owner === cInstance ? 'C' : o.owner, n: o.n })))}; ` +
        `system-database owner C for ${await ownedBy(uuids, cInstance)}; 20 s after the gate ${JSON.stringify(counts)}; ` +
        `C fenced lines ${c.output().split('\n').filter((l) => /was fenced/.test(l)).length}`,
    );
    expect(ended, JSON.stringify(counts)).toBe(true);
    expect(counts).toEqual({ SUCCESS: WORKFLOWS });
  }, 90_000);
});
