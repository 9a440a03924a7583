/**
 * A database outage longer than the local lease strands the workflows that step during it.
 *
 * Before a step performs its operation it checks the local lease (`holds`: confirmed less than
 * 4 s ago by default) and otherwise asks the database (`confirm`). When the database is away that heartbeat
 * fails, `confirm` answers "not held", and the step abandons its workflow as fenced
 * (workflow-execution.ts, step: `!lease.holds(...) && !(await lease.confirm(...))` →
 * `this.fenced()`). But nobody adopted it: the executor is still live (its lease, judged by the
 * database, never lapsed, or no other executor exists to declare it dead), it still owns the
 * workflow, and its next heartbeat succeeds. So the workflow stays PENDING, owned by a live
 * executor that no longer runs it, and nothing ever adopts it (until that process restarts). A
 * database outage must be waited out, never turned into a loss.
 *
 * Reproduction: one `operon start` (the only executor: nobody else could take anything) with a
 * 3 s lease (runtimeConfig.leaseMs; heartbeats every 1 s, so the local lease is trusted 2 s)
 * reaches Postgres through the chaos proxy; 10 workflows do a communicator and sleep 3 s. Half a
 * second into their sleep the proxy drops every connection and refuses new ones for 3.5 s. The
 * sleeps end during the outage, more than 2 s after the last heartbeat: the next step (a
 * transaction) checks the lease, the heartbeat fails, and the workflow is abandoned as fenced.
 * Expected: all 10 complete within 20 s of the database's return.
 */
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { PostgresProxy } from '../chaos/postgres-proxy.js';
import { assertCliBuilt } from '../cli/cli-process.js';
import { allEnded, configVariant, instanceOf, killAll, prepareFleetApp, startExecutor, startWorkflows, statusCounts, sys, waitUntil, type FleetApp, type FleetProcess } from '../executors/fleet.js';

/** The lease is trusted locally for two thirds of it; the sleeps end past that, inside the outage. */
const LEASE_MS = 3_000;
const SLEEP_S = 3;
const OUTAGE_MS = 3_500;

let app: FleetApp;
let proxy: PostgresProxy;
const executors: FleetProcess[] = [];

beforeAll(async () => {
  assertCliBuilt();
  app = await prepareFleetApp('regout', { leaseMs: LEASE_MS });
  const server = inject('postgres');
  proxy = new PostgresProxy({ host: server.host, port: server.port });
  const port = await proxy.listen();
  executors.push(await startExecutor(app, { configFile: configVariant(app, 'proxied', { hostname: '127.0.0.1', port, connectionTimeoutMillis: 1000 }) }));
});

afterAll(async () => {
  proxy?.restore();
  await killAll(executors);
  await proxy?.close();
  app?.remove();
});

describe('a 3.5 s database outage under one executor with a 3 s lease, sleeps ending in it', () => {
  it('is waited out: every workflow completes once the database is back', async () => {
    const [only] = executors as [FleetProcess];
    const instance = await instanceOf(app, only.pid);
    const uuids = await startWorkflows(only, 'napping', 10, [SLEEP_S]);
    expect(
      await waitUntil(async () => {
        const [{ n }] = await sys<{ n: number }>(app, 'SELECT count(*)::int AS n FROM operon.operation_outputs WHERE workflow_uuid = ANY($1)', [uuids]);
        return n === 20;
      }, 10_000, 50),
    ).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 500));
    proxy.cutAll();
    await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS));
    proxy.restore();
    const ended = await allEnded(app, uuids, 20_000);
    const counts = await statusCounts(app, uuids);
    const owners = await sys<{ owner: string; state: string; n: number }>(
      app,
      `SELECT w.owner, e.state, count(*)::int AS n FROM operon.workflow_status w LEFT JOIN operon.executors e ON e.instance_id = w.owner
       WHERE w.workflow_uuid = ANY($1) AND w.status = 'PENDING' GROUP BY w.owner, e.state`,
      [uuids],
    );
    const fencedLines = only.output().split('\n').filter((line) => /was fenced/.test(line));
    console.log(
      `[regression] ${OUTAGE_MS} ms outage, one executor with a ${LEASE_MS} ms lease: statuses ${JSON.stringify(counts)} 20 s after the outage; PENDING by owner ` +
        `${JSON.stringify(owners.map((o) => ({ ownerIsThisProcess: o.owner === instance, state: o.state, n: o.n })))}; "was fenced" lines ${fencedLines.length}`,
    );
    expect(ended, `statuses ${JSON.stringify(counts)}`).toBe(true);
    expect(counts).toEqual({ SUCCESS: 10 });
    // The lease was asked about during the outage (a step past the local lease, or a beat), and failed to answer.
    expect(only.output().split('\n').filter((line) => /executor heartbeat failed/.test(line)).length, 'heartbeats that failed in the outage').toBeGreaterThan(0);
  }, 60_000);
});
