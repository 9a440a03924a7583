/**
 * Regression: a fork wrote only a note of the transaction outputs it takes (its original's UUID
 * and step), and the executor that adopted the fork read them from the original at that moment.
 * Whatever happened to the original between the fork and its adoption changed the fork:
 *
 * - retention deleted the ended original meanwhile: the fork copied nothing, and ran again the
 *   transactions its answer said it replays (its communicators' records, copied at the fork, stayed);
 * - the original was itself a fork not yet adopted (waiting for an executor, or cancelled before
 *   it ran): its outputs were only a note, not in the app database, so the fork of it copied none.
 *
 * Expected: a fork takes the original's outputs as they are when it is made, whatever becomes of
 * the original afterwards.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { forkWorkflow, type OperonConfig, type OperonRuntime } from '@operon/runtime';
import { deleteEndedWorkflows, deleteTransactionRecords } from '../../packages/runtime/src/system-db/retention.js';
import { Ledger } from '../helpers/stamped-ledger.js';
import { poolsOn, startRuntime, testConfig } from '../helpers/test-databases.js';

let config: OperonConfig;
let runtime: OperonRuntime | undefined;
let pools: ReturnType<typeof poolsOn>;

/** A fork made while no executor runs: it waits for one to adopt it. */
function forkInto(source: string, fromStep: number, target: string) {
  return forkWorkflow(pools.systemPool, pools.appPool, source, { fromStep, workflowUUID: target }, { actor: 'test' });
}

beforeAll(async () => {
  config = testConfig('fork_copies_late', { telemetry: { logs: { logLevel: 'silent' } } });
  pools = poolsOn(config);
  runtime = await startRuntime([Ledger], config);
  await expect((await runtime.client.invoke(Ledger, { workflowUUID: 'x' }).book('x')).getResult()).resolves.toEqual(['x0@x', 'x1@x', 'x2@x']);
  await expect((await runtime.client.invoke(Ledger, { workflowUUID: 'y' }).book('y')).getResult()).resolves.toEqual(['y0@y', 'y1@y', 'y2@y']);
  await runtime.destroy({ timeoutMs: 1_000 });
  runtime = undefined;
});

afterAll(async () => {
  await runtime?.destroy({ timeoutMs: 1_000 });
  await pools?.end();
});

it('a fork whose original retention deletes before the fork is adopted, and a fork of a fork not yet adopted, replay what their originals had', { timeout: 30_000 }, async () => {
  // x ends and is deleted by retention between its fork and the fork's adoption.
  await forkInto('x', 2, 'x-fork');
  // Retention now keeps an original while its fork runs: forget the fork's link to x, as a
  // version of retention that did not keep it (or a hand) could have gone on without it.
  await pools.systemPool.query("DELETE FROM operon.fork_sources WHERE source_uuid = 'x'");
  // The first workflow in UUID order only: x (y must stay for the forks below).
  const deleted = await deleteEndedWorkflows(pools.systemPool, Date.now() + 60_000, '', 1);
  expect(deleted.deleted).toEqual(['x']);
  await deleteTransactionRecords(pools.appPool, deleted.deleted);
  // A fork of y, and a fork of that fork before any executor adopted the first one.
  await forkInto('y', 2, 'y-fork');
  await forkInto('y-fork', 3, 'y-fork-fork');
  runtime = await startRuntime([Ledger], config);
  const results = Object.fromEntries(
    await Promise.all(['x-fork', 'y-fork', 'y-fork-fork'].map(async (uuid) => [uuid, await runtime!.client.retrieveWorkflow<string[]>(uuid).getResult()])),
  );
  expect(results).toEqual({
    'x-fork': ['x0@x', 'x1@x', 'x2@x-fork'],
    'y-fork': ['y0@y', 'y1@y', 'y2@y-fork'],
    'y-fork-fork': ['y0@y', 'y1@y', 'y2@y-fork-fork'],
  });
});
