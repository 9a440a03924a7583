/**
 * Replaying recorded workflows: the trace matches the record, divergences are named with their
 * operation id, a PENDING workflow stops at its last record, and nothing in either database changes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Communicator, Transaction, Workflow, type CommunicatorContext, type TransactionContext, type WorkflowContext } from '@operon/sdk';
import { OperonRuntime, replayWorkflow, type OperonConfig } from '@operon/runtime';
import { query, startRuntime, testConfig } from '../helpers/test-databases.js';

let flaky = 0;
let hang = false;

function shopClass(variant: 'recorded' | 'reordered' | 'extra' | 'fewer' | 'other-result') {
  class Shop {
    @Transaction()
    static async insert(ctx: TransactionContext, item: string): Promise<number> {
      const { rows } = await ctx.client.query<{ id: number }>('INSERT INTO items(name) VALUES ($1) RETURNING id', [item]);
      return rows[0]!.id;
    }
    @Communicator({ intervalSeconds: 0.01 })
    static async charge(_ctx: CommunicatorContext, item: string): Promise<string> {
      if (flaky++ < 2) throw new Error('card network busy');
      return `charged ${item}`;
    }
    @Communicator()
    static async ship(_ctx: CommunicatorContext, item: string): Promise<string> {
      if (hang) await new Promise(() => undefined);
      return `shipped ${item}`;
    }
    @Communicator({ retriesAllowed: false })
    static async refuse(_ctx: CommunicatorContext): Promise<string> {
      throw new Error('out of stock');
    }
    @Workflow()
    static async order(ctx: WorkflowContext, item: string): Promise<string> {
      if (variant === 'reordered') {
        const charged = await ctx.invoke(Shop).charge(item);
        const id = await ctx.invoke(Shop).insert(item);
        return `${id} ${charged}`;
      }
      const id = await ctx.invoke(Shop).insert(item);
      const charged = await ctx.invoke(Shop).charge(item);
      if (variant === 'fewer') return `${id} ${charged}`;
      const shipped = await ctx.invoke(Shop).ship(item);
      if (variant === 'extra') await ctx.invoke(Shop).ship(item);
      return variant === 'other-result' ? `${id} ${charged} ${shipped}!` : `${id} ${charged} ${shipped}`;
    }
    @Workflow()
    static async failing(ctx: WorkflowContext): Promise<void> {
      await ctx.invoke(Shop).refuse();
    }
  }
  return Shop;
}

const Recorded = shopClass('recorded');
let config: OperonConfig;
let recorder: OperonRuntime;
const replayers: OperonRuntime[] = [];

async function replayer(variant: Parameters<typeof shopClass>[0]): Promise<OperonRuntime> {
  const rt = await OperonRuntime.create({ config, classes: [variant === 'recorded' ? Recorded : shopClass(variant)], readOnly: true, logger: recorder.logger });
  replayers.push(rt);
  return rt;
}

async function snapshot(): Promise<unknown> {
  const sys = await query(config.database.system_database,
    "SELECT (SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM operon.workflow_status t) AS s, (SELECT md5(string_agg(o::text, ',' ORDER BY o::text)) FROM operon.operation_outputs o) AS o");
  const app = await query(config.database.user_database,
    "SELECT (SELECT md5(string_agg(i::text, ',' ORDER BY i::text)) FROM items i) AS i, (SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM operon.transaction_outputs t) AS t");
  return { sys, app };
}

beforeAll(async () => {
  config = testConfig('replay');
  recorder = await startRuntime([Recorded], config);
  await recorder.appPool.query('CREATE TABLE items (id serial primary key, name text)');
  const order = recorder.registry.lookup(Recorded, 'order');
  await (await recorder.executor.startWorkflow(order, ['book'], { workflowUUID: 'order-1' })).getResult();
  await (await recorder.client.invoke(Recorded, { workflowUUID: 'failing-1' }).failing()).getResult().catch(() => undefined);
  hang = true;
  await recorder.executor.startWorkflow(order, ['lamp'], { workflowUUID: 'pending-1' });
  for (;;) {
    const rows = await query(config.database.system_database, "SELECT 1 FROM operon.operation_outputs WHERE workflow_uuid = 'pending-1' AND function_id = 1");
    if (rows.length) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
});
afterAll(async () => {
  await Promise.all(replayers.map((rt) => rt.destroy()));
  await recorder.destroy({ timeoutMs: 0 });
});

describe('replaying a recorded workflow', () => {
  it('returns every recorded operation and a result that matches, touching nothing', async () => {
    const before = await snapshot();
    const report = await replayWorkflow(await replayer('recorded'), 'order-1');
    expect(report).toMatchObject({ workflowName: 'Shop.order', recordedStatus: 'SUCCESS', matches: true, result: { output: '1 charged book shipped book' } });
    expect(report.operations).toEqual([
      { functionID: 0, functionName: 'Shop.insert', kind: 'transaction', outcome: 'output', summary: '1' },
      { functionID: 1, functionName: 'Shop.charge', kind: 'communicator', outcome: 'output', summary: '"charged book"' },
      { functionID: 2, functionName: 'Shop.ship', kind: 'communicator', outcome: 'output', summary: '"shipped book"' },
    ]);
    expect(await snapshot()).toEqual(before);
  });

  it('replays a recorded error', async () => {
    const report = await replayWorkflow(await replayer('recorded'), 'failing-1');
    expect(report).toMatchObject({ recordedStatus: 'ERROR', matches: true, result: { error: { name: 'Error', message: 'out of stock' } } });
    expect(report.operations[0]).toMatchObject({ functionName: 'Shop.refuse', outcome: 'error', summary: 'Error: out of stock' });
  });

  it('stops a PENDING workflow at its last recorded operation', async () => {
    const report = await replayWorkflow(await replayer('recorded'), 'pending-1');
    expect(report.matches).toBe(true);
    expect(report.operations.map((o) => o.functionID)).toEqual([0, 1]);
    expect(report.stoppedAt).toMatchObject({ functionID: 2 });
  });

  it.each([
    ['reordered', 'different-function', 0, 'operation 0: the code calls Shop.charge, but the record is of Shop.insert'],
    ['extra', 'extra-operation', 3, 'operation 3: the code calls Shop.ship, but the recorded run has no operation 3'],
    ['fewer', 'missing-operations', 2, 'the code made 2 operations, but the recorded run made more: operation 2 (Shop.ship) was not called'],
    ['other-result', 'different-result', undefined, 'the replay returned "1 charged book shipped book!", but the recorded result is "1 charged book shipped book"'],
  ] as const)('reports code that diverges: %s', async (variant, kind, functionID, message) => {
    const before = await snapshot();
    const report = await replayWorkflow(await replayer(variant), 'order-1');
    expect(report.matches).toBe(false);
    // A divergence also names the functions and, for a call of the new code, where it is made.
    expect(report.divergence).toMatchObject({ kind, message });
    expect(report.divergence?.functionID).toBe(functionID);
    expect(await snapshot()).toEqual(before);
  });

  it('refuses writes through its read-only sessions', async () => {
    const rt = await replayer('recorded');
    await expect(rt.appPool.query("INSERT INTO items(name) VALUES ('x')")).rejects.toThrow(/read-only transaction/);
  });
});
