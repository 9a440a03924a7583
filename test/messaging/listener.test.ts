import { afterAll, expect, it } from 'vitest';
import { Workflow, type WorkflowContext } from '@operon/sdk';
import { OperonRuntime } from '@operon/runtime';
import { listenDirectly, query, testConfig } from '../helpers/test-databases.js';
import { startLoggedRuntime, until } from './messaging-helpers.js';

class Waits {
  @Workflow()
  static async waitFor(ctx: WorkflowContext, topic: string): Promise<unknown> {
    return ctx.recv(topic, 60);
  }
}

const runtimes: OperonRuntime[] = [];
afterAll(async () => {
  await Promise.all(runtimes.map((rt) => rt.destroy({ timeoutMs: 0 })));
});

async function listenerPids(database: string): Promise<number[]> {
  const rows = await query(database, "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = 'operon-listener'", [database]);
  return rows.map((r) => r.pid);
}

it('wakes waiting workflows after its listener connection is killed, and logs that it reconnected', async () => {
  const config = testConfig('listen', { database: listenDirectly() });
  const { runtime: rt, messages } = await startLoggedRuntime([Waits], config);
  runtimes.push(rt);
  const [oldPid] = await listenerPids(config.database.system_database);
  // Sends come from another runtime (as from another process): only rt's LISTEN connection, or
  // its slow poll, can wake rt's waiters. It does not recover, so it never runs rt's workflows.
  const sender = await OperonRuntime.create({ config, classes: [Waits], logger: rt.logger });
  runtimes.push(sender);
  const sys = config.database.system_database;
  const senderPids = (await listenerPids(sys)).filter((pid) => pid !== oldPid);
  const fn = rt.registry.lookup(Waits, 'waitFor');
  const before = await Promise.all(['a', 'b', 'c'].map((t) => rt.executor.startWorkflow(fn, [t], { workflowUUID: `listen-${t}` })));
  const event = rt.messaging.getEvent('listen-publisher', 'k', 60);
  await until('three recvs and one getEvent to wait', () => rt.messaging.waitingCount === 4);
  expect(oldPid).toBeDefined();
  const [killed] = await query(sys, 'SELECT pg_terminate_backend($1) AS ok', [oldPid]);
  expect(killed.ok).toBe(true);
  // Sent while the listener is down: its notification reaches nobody.
  await sender.messaging.send('listen-a', 'sent while down', 'a');
  await until('the reconnect log line', () => messages().includes('notification listener reconnected'), 15_000);
  expect(messages()).toContain('notification listener lost its connection; reconnecting');
  const pids = (await listenerPids(sys)).filter((pid) => !senderPids.includes(pid));
  expect(pids).toHaveLength(1);
  expect(pids[0]).not.toBe(oldPid);
  expect(await before[0]!.getResult()).toBe('sent while down');
  // Sent after the reconnect: woken through the new connection, well before a poll (every 1.5 s or more).
  const sentAt = Date.now();
  await sender.messaging.send('listen-b', 'after', 'b');
  expect(await before[1]!.getResult()).toBe('after');
  expect(Date.now() - sentAt).toBeLessThan(1_400);
  await query(sys, `INSERT INTO operon.workflow_events (workflow_uuid, key, value, updated_at) VALUES ('listen-publisher', 'k', '"set"', 0)`);
  await sender.messaging.send('listen-c', 'after too', 'c');
  expect(await Promise.all([before[1]!.getResult(), before[2]!.getResult(), event])).toEqual(['after', 'after too', 'set']);
});

it('wakes a waiter through the slow poll when no notification comes', async () => {
  const config = testConfig('poll');
  const { runtime: rt } = await startLoggedRuntime([Waits], config);
  runtimes.push(rt);
  const handle = await rt.client.invoke(Waits, { workflowUUID: 'poll-wf' }).waitFor('quiet');
  await until('the recv to wait', () => rt.messaging.waitingCount === 1);
  // Written behind Operon's back, with no pg_notify: only the poll can find it.
  await query(config.database.system_database, `INSERT INTO operon.notifications (destination_uuid, topic, message, created_at) VALUES ('poll-wf', 'quiet', '"polled"', 0)`);
  const insertedAt = Date.now();
  expect(await handle.getResult()).toBe('polled');
  // The poll runs every 2 s (±25%): it found the message within a few seconds.
  expect(Date.now() - insertedAt).toBeLessThan(2_500 + 1_500);
});
