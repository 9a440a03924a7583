/**
 * An adoption retried after a failure takes up this instance's own PENDING workflows too (a page
 * it claimed before the failure may be among them), and moves their epoch on. A run of this
 * instance already executing one of them, at the old epoch (a first run at epoch 0: a start, a
 * start that ran its own INSERT committed with its answer lost, a dequeue), goes on to its end:
 * the adoption skips it, and a transaction commits while its owner is the same instance, whatever
 * the epoch (the epoch only orders the fence rows of different owners). So the workflow ends once,
 * its communicator and transaction run once, and nothing is left PENDING.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Communicator, Transaction, Workflow, type CommunicatorContext, type TransactionContext, type WorkflowContext } from '@operon/sdk';
import type { OperonRuntime } from '@operon/runtime';
import { startRuntime, testConfig } from '../helpers/test-databases.js';
import { within } from '../helpers/app-dir.js';

let calls = 0;
let txs = 0;
let reached: () => void = () => undefined;
const atGate = new Promise<void>((r) => (reached = r));
let letGo: () => void = () => undefined;
const gate = new Promise<void>((resolve) => (letGo = resolve));

class Errand {
  @Communicator()
  static async wait(_ctx: CommunicatorContext): Promise<string> {
    calls++;
    reached();
    await gate;
    return 'w';
  }
  @Transaction()
  static async write(ctx: TransactionContext): Promise<number> {
    txs++;
    const { rows } = await ctx.client.query<{ v: number }>('SELECT 7 AS v');
    return rows[0]!.v;
  }
  @Workflow()
  static async go(ctx: WorkflowContext): Promise<string> {
    const a = await ctx.invoke(Errand).wait();
    const b = await ctx.invoke(Errand).write();
    return `${a}${b}`;
  }
}

let runtime: OperonRuntime | undefined;
beforeAll(async () => {
  runtime = await startRuntime([Errand], testConfig('ownadoptrun'));
});
afterAll(async () => {
  letGo();
  await runtime?.destroy({ timeoutMs: 1_000 });
});

describe('an adoption from its own instance while a run of it executes', () => {
  it('the run goes on to its end at the old epoch: it ends once, each operation performed once', async () => {
    const handle = await runtime!.client.invoke(Errand, { workflowUUID: 'errand-1' }).go();
    await atGate;
    const before = (await runtime!.systemDb.getWorkflow('errand-1'))!.ownerEpoch;
    // What adoptInTurn does once the database answers again after a failed adoption.
    const n = await runtime!.executor.adoptNow([runtime!.executor.lease.instanceId]);
    expect((await runtime!.systemDb.getWorkflow('errand-1'))!.ownerEpoch).toBe(before + 1);
    letGo();
    expect(await within(handle.getResult(), 10_000, 'no result')).toBe('w7');
    expect((await handle.getStatus())?.status).toBe('SUCCESS');
    // Skipped by the adoption (it runs here already); the communicator and the transaction once.
    expect([n, calls, txs]).toEqual([0, 1, 1]);
  });
});
