/**
 * The replay gate compares every recorded operation, from both databases: a transaction's output
 * (recorded in the app database) as well as the system database's records, and replays each
 * workflow on its own arguments, so code that branches on them is checked on the branch each
 * workflow took. Exactly the workflows whose records disagree with the candidate are named.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Communicator, Transaction, Workflow, type CommunicatorContext, type TransactionContext, type WorkflowContext } from '@operon/sdk';
import { checkOpenWorkflows, type OperonRuntime } from '@operon/runtime';
import { FunctionRegistry } from '../../packages/runtime/src/executor/function-registry.js';
import { startRuntime, testConfig } from '../helpers/test-databases.js';

/** `renamed`: the candidate's transaction has another name, so a workflow that recorded the first diverges there. */
function shopOf(renamed: boolean) {
  class Shop {
    @Transaction()
    static async insert(_ctx: TransactionContext, item: string): Promise<string> {
      return `inserted ${item}`;
    }

    @Transaction()
    static async upsert(_ctx: TransactionContext, item: string): Promise<string> {
      return `upserted ${item}`;
    }

    @Communicator()
    static async charge(_ctx: CommunicatorContext, item: string): Promise<string> {
      return `charged ${item}`;
    }

    @Workflow()
    static async order(ctx: WorkflowContext, item: string, stored: boolean): Promise<string> {
      // Which operation runs depends on the workflow's argument.
      const first = stored ? await (renamed ? ctx.invoke(Shop).upsert(item) : ctx.invoke(Shop).insert(item)) : await ctx.invoke(Shop).charge(item);
      const message = await ctx.recv<string>('go', 300);
      return `${first} ${message}`;
    }
  }
  return Shop;
}

const Recorded = shopOf(false);
const Candidate = shopOf(true);
let runtime: OperonRuntime;
const uuids = { stored: `stored-${randomUUID()}`, charged: `charged-${randomUUID()}` };

beforeAll(async () => {
  runtime = await startRuntime([Recorded], testConfig('check_records'));
  await runtime.client.invoke(Recorded, { workflowUUID: uuids.stored }).order('lamp', true);
  await runtime.client.invoke(Recorded, { workflowUUID: uuids.charged }).order('desk', false);
  for (const uuid of Object.values(uuids)) {
    // Waiting in recv: its first operation and the recv's deadline are recorded.
    while (((await runtime.systemDb.loadRecords([uuid])).get(uuid)?.size ?? 0) < 2) await new Promise((resolve) => setTimeout(resolve, 20));
  }
});

afterAll(async () => {
  await runtime?.destroy({ timeoutMs: 0 });
});

it('names exactly the workflow whose recorded transaction the candidate does not call, replayed on its own arguments', async () => {
  // The same code agrees with every record.
  const same = await checkOpenWorkflows(runtime, new FunctionRegistry([Recorded], null));
  expect(same.divergences.filter((d) => Object.values(uuids).includes(d.workflowUUID))).toEqual([]);

  const report = await checkOpenWorkflows(runtime, new FunctionRegistry([Candidate], null));
  const ours = report.divergences.filter((d) => Object.values(uuids).includes(d.workflowUUID));
  expect(ours.map((d) => d.workflowUUID)).toEqual([uuids.stored]);
  expect(ours[0]!.divergence).toMatchObject({ kind: 'different-function', functionID: 0, recordedFunction: 'Shop.insert', newFunction: 'Shop.upsert' });
});
