/**
 * Regression: the heartbeat's own connection gave up on a statement only after five sixths of
 * the lease, and the next heartbeat came a whole interval after that. A connection that stalls
 * without closing (its server process stopped, a half-open TCP session after a network fault),
 * while the database itself still takes new connections, so left the lease unrenewed for
 * interval + 5/6 lease > lease: another executor declared the healthy one dead and adopted its
 * workflows, though a fresh connection would have renewed the lease at once.
 *
 * Reproduction: A and B share a system database with a 3 s lease (a beat each second). A runs a
 * workflow that waits for a message. The server process behind A's idle heartbeat connection is
 * stopped (SIGSTOP), so A's next heartbeat gets no answer and no error. Expected: A gives that
 * connection up and beats again on a new one in time; its row stays live and its workflow stays
 * its own for two leases.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Workflow, type WorkflowContext } from '@operon/sdk';
import type { OperonRuntime } from '@operon/runtime';
import { waitUntil } from '../executors/fleet.js';
import { query, startRuntime, testConfig, withExecutorId } from '../helpers/test-databases.js';

const LEASE_MS = 3_000;

class StalledBeat {
  @Workflow()
  static async waitForGo(ctx: WorkflowContext): Promise<string> {
    return `got ${await ctx.recv<string>('go', 60)}`;
  }
}

let a: OperonRuntime;
let b: OperonRuntime;
let sysDb: string;
let stoppedPid: number | undefined;

function resumeStopped(): void {
  if (stoppedPid === undefined) return;
  try {
    process.kill(stoppedPid, 'SIGCONT');
  } catch {
    // Already gone.
  }
  stoppedPid = undefined;
}

beforeAll(async () => {
  const config = testConfig('stalled_beat', { runtimeConfig: { leaseMs: LEASE_MS } });
  sysDb = config.database.system_database;
  a = await startRuntime([StalledBeat], config);
  b = await startRuntime([StalledBeat], withExecutorId(config, `${sysDb}-b`));
});

afterAll(async () => {
  resumeStopped();
  await b?.destroy({ timeoutMs: 1000 });
  await a?.destroy({ timeoutMs: 1000 });
});

it("keeps A's lease when the server process behind its heartbeat connection stops answering", async () => {
  const instance = a.executor.lease.instanceId;
  const handle = await a.client.invoke(StalledBeat).waitForGo();
  const uuid = handle.getWorkflowUUID();
  const owner = async () => (await query(sysDb, `SELECT owner FROM operon.workflow_status WHERE workflow_uuid = $1`, [uuid]))[0]?.owner;
  expect(await waitUntil(async () => (await owner()) === instance, 5_000)).toBe(true);

  // A's heartbeat session, caught idle between beats (stopped mid-statement it could hold A's row locked).
  const heartbeatBackend = async () =>
    (
      await query<{ pid: number }>(
        sysDb,
        `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1
           AND state = 'idle' AND query LIKE '%heartbeat_at = now()%'`,
        [a.executor.deps.sessionTag],
      )
    )[0]?.pid;
  let pid: number | undefined;
  expect(await waitUntil(async () => (pid = await heartbeatBackend()) !== undefined, 5_000)).toBe(true);
  process.kill(pid!, 'SIGSTOP');
  stoppedPid = pid;
  try {
    const until = Date.now() + 2 * LEASE_MS;
    while (Date.now() < until) {
      const [row] = await query<{ state: string }>(sysDb, `SELECT state FROM operon.executors WHERE instance_id = $1`, [instance]);
      expect(row!.state, "A, whose heartbeat connection stalled, as its registration says").toBe('live');
      expect(await owner(), "the owner of A's workflow").toBe(instance);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  } finally {
    resumeStopped();
  }
  await a.client.send(uuid, 'now', 'go');
  expect(await handle.getResult()).toBe('got now');
}, 40_000);
