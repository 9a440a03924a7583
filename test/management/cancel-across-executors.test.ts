/**
 * Two `operon start` processes on one Postgres. A workflow runs in A, inside a communicator held
 * by a gate; B's API cancels it. The cancel's notification reaches A while the communicator is
 * still in flight (A logs it); once the gate opens, the communicator finishes and its record is
 * written, and the transaction after it never runs. A resume through B continues it after that
 * record: the transaction runs once, the communicator never again. B's token is the one it made
 * at start and printed with the dashboard link.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { appDb, sideEvents, startExecutor, startWorkflows, sys, waitUntil, type FleetProcess } from '../executors/fleet.js';
import { useFleet } from '../helpers/fleet-scaffold.js';

const fleet = useFleet('mgcancel', (app) => Promise.all([0, 1].map(() => startExecutor(app))));
const { executors } = fleet;

function tokenOf(executor: FleetProcess): string {
  const match = /operon: serving on http:\/\/127\.0\.0\.1:\d+ \(version [0-9a-f]{16}\), dashboard http:\/\/127\.0\.0\.1:\d+\/operon\/dashboard\?token=([A-Za-z0-9_-]+)/.exec(executor.output());
  if (!match) throw new Error(`no dashboard link with a token in:\n${executor.output()}`);
  return match[1]!;
}

describe('cancel in another executor', () => {
  it('records the operation in flight, starts no further one, and resumes after it', async () => {
    const { app } = fleet;
    const [runner, manager] = executors as [FleetProcess, FleetProcess];
    const auth = { authorization: `Bearer ${tokenOf(manager)}`, 'content-type': 'application/json' };
    const [uuid] = await startWorkflows(runner, 'gatedThenWrite', 1, []);
    expect(await waitUntil(() => sideEvents(app).some((e) => e.uuid === uuid && e.ev === 'start' && e.step === 0), 15_000)).toBe(true);

    const sentAt = Date.now();
    const cancel = await fetch(`${manager.baseUrl}/operon/workflows/${uuid}/cancel`, { method: 'POST', headers: auth, body: '{}' });
    expect(cancel.status, await cancel.clone().text()).toBe(200);
    expect(await cancel.json()).toEqual({ changed: 1, workflowUUIDs: [uuid] });
    // The runner hears of it while its communicator is still in flight (nothing recorded yet).
    expect(await waitUntil(() => runner.output().includes(`workflow ${uuid} was cancelled`), 5_000, 5)).toBe(true);
    const heard = runner.output().split('\n').find((line) => line.includes(`workflow ${uuid} was cancelled`))!;
    const heardAt = Date.parse((JSON.parse(heard.slice(heard.indexOf("{"))) as { time: string }).time);
    console.log(`the cancel reached the other executor ${heardAt - sentAt} ms after the request was sent (its log line's time)`);
    expect(await sys(app, 'SELECT 1 FROM operon.operation_outputs WHERE workflow_uuid = $1', [uuid])).toEqual([]);

    writeFileSync(app.gate, '');
    expect(await waitUntil(async () => (await sys(app, 'SELECT 1 FROM operon.operation_outputs WHERE workflow_uuid = $1 AND function_id = 0', [uuid])).length === 1, 10_000)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(await appDb(app, 'SELECT 1 FROM fleet_writes WHERE workflow_uuid = $1', [uuid])).toEqual([]);
    expect((await sys(app, 'SELECT status FROM operon.workflow_status WHERE workflow_uuid = $1', [uuid]))[0].status).toBe('CANCELLED');

    const resume = await fetch(`${manager.baseUrl}/operon/workflows/${uuid}/resume`, { method: 'POST', headers: auth, body: '{}' });
    expect(resume.status).toBe(200);
    expect(
      await waitUntil(async () => (await sys(app, 'SELECT status FROM operon.workflow_status WHERE workflow_uuid = $1', [uuid]))[0].status === 'SUCCESS', 15_000),
    ).toBe(true);
    const writes = await appDb<{ pid: number }>(app, 'SELECT pid FROM fleet_writes WHERE workflow_uuid = $1', [uuid]);
    expect(writes).toHaveLength(1);
    // The gated communicator ran once, in the runner; the resumed run replayed its record.
    expect(sideEvents(app).filter((e) => e.uuid === uuid && e.step === 0 && e.ev === 'start').map((e) => e.pid)).toEqual([runner.pid]);
    expect(existsSync(app.gate)).toBe(true);
  });
});
