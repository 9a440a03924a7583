/**
 * Messages across executors: a recv in process A is woken by a send in process B (from a workflow
 * and from a handler), at once (LISTEN/NOTIFY, not the slow poll); and a recv adopted from a
 * SIGKILLed process waits on in its adopter and is woken by a send from a third process.
 */
import { describe, expect, it } from 'vitest';
import {
  allEnded,
  instanceOf,
  post,
  sideEvents,
  startExecutor,
  startWorkflows,
  sys,
  waitUntil,
  type FleetProcess,
  type SideEvent,
} from './fleet.js';
import { useFleet } from '../helpers/fleet-scaffold.js';

const fleet = useFleet('exmsg', (app) => Promise.all([0, 1, 2].map(() => startExecutor(app))));
const { executors } = fleet;

/** Resolves once the receiver's recv is waiting (its deadline is recorded). */
async function waiting(uuid: string): Promise<void> {
  const ok = await waitUntil(async () => {
    const [{ n }] = await sys<{ n: number }>(fleet.app, 'SELECT count(*)::int AS n FROM operon.operation_outputs WHERE workflow_uuid = $1', [uuid]);
    return n >= 1;
  }, 10_000, 50);
  if (!ok) throw new Error(`receiver ${uuid} never started waiting`);
  // The deadline is recorded in the recv's first statement; its wait is registered right after it.
  await new Promise((resolve) => setTimeout(resolve, 300));
}

function received(uuid: string): SideEvent | undefined {
  return sideEvents(fleet.app).find((e) => e.ev === 'received' && e.uuid === uuid);
}

describe('messages across executors', () => {
  it('a recv in A is woken by a send from a workflow in B and by one from a handler in B', async () => {
    const [a, b] = executors as [FleetProcess, FleetProcess];
    const [fromWorkflow, fromHandler] = [...(await startWorkflows(a, 'receiver', 1, ['t1', 30])), ...(await startWorkflows(a, 'receiver', 1, ['t2', 30]))] as [string, string];
    await Promise.all([waiting(fromWorkflow), waiting(fromHandler)]);

    const [sender] = await startWorkflows(b, 'sender', 1, [fromWorkflow, 't1', { hello: 'from a workflow in B' }]);
    const handlerSentAt = Date.now();
    expect((await post(b, '/send', { destination: fromHandler, topic: 't2', message: { hello: 'from a handler in B' } })).status).toBe(200);
    expect(await allEnded(fleet.app, [sender!, fromWorkflow, fromHandler], 10_000)).toBe(true);

    const sentByWorkflow = sideEvents(fleet.app).find((e) => e.ev === 'sending' && e.uuid === sender)!;
    const one = received(fromWorkflow)!;
    const two = received(fromHandler)!;
    expect(one).toMatchObject({ pid: a.pid, message: { hello: 'from a workflow in B' } });
    expect(two).toMatchObject({ pid: a.pid, message: { hello: 'from a handler in B' } });
    expect(sentByWorkflow.pid).toBe(b.pid);
    console.log(`[executors] recv in A woken by B: from a workflow ${one.t - sentByWorkflow.t} ms, from a handler ${two.t - handlerSentAt} ms`);
    expect(one.t - sentByWorkflow.t).toBeLessThan(1_500);
    expect(two.t - handlerSentAt).toBeLessThan(1_500);
  }, 30_000);

  it('a recv adopted from a SIGKILLed process is woken in its adopter by a send from a third process', async () => {
    const [a, b, c] = executors as [FleetProcess, FleetProcess, FleetProcess];
    const aInstance = await instanceOf(fleet.app, a.pid);
    const bInstance = await instanceOf(fleet.app, b.pid);
    const [uuid] = (await startWorkflows(a, 'receiver', 1, ['t3', 60])) as [string];
    await waiting(uuid);
    a.signal('SIGKILL');
    await a.server.exited;
    // Adopted by B or C; the send comes from the other one.
    expect(
      await waitUntil(async () => {
        const [{ owner }] = await sys<{ owner: string }>(fleet.app, 'SELECT owner FROM operon.workflow_status WHERE workflow_uuid = $1', [uuid]);
        return owner !== aInstance;
      }, 15_000),
    ).toBe(true);
    const [{ owner }] = await sys<{ owner: string }>(fleet.app, 'SELECT owner FROM operon.workflow_status WHERE workflow_uuid = $1', [uuid]);
    const [adopter, other] = owner === bInstance ? [b, c] : [c, b];
    // Its recv runs again in the adopter, from its recorded deadline, and waits there.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const sentAt = Date.now();
    expect((await post(other, '/send', { destination: uuid, topic: 't3', message: 'after adoption' })).status).toBe(200);
    expect(await allEnded(fleet.app, [uuid], 10_000)).toBe(true);
    const got = received(uuid)!;
    expect(got).toMatchObject({ pid: adopter.pid, message: 'after adoption' });
    console.log(`[executors] adopted recv woken by a send from a third process: ${got.t - sentAt} ms`);
    expect(got.t - sentAt).toBeLessThan(1_500);
  }, 40_000);
});
