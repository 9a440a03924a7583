/**
 * Regression: a run that never heard a cancel learns of it from the answer of the statement that
 * records its operation in flight (a transaction's commit returns the app database's mark, a
 * communicator's record write reads the status). When that answer was lost with its connection
 * (the record committed), the run read its records again, found the record, and went on to start
 * one more operation: here a communicator, which called out after the cancel had committed. A run
 * that reads its records again after a failure now also reads whether it was cancelled.
 *
 *
 * The same held when the answer lost was the status check a transaction's run makes after its
 * commit returned the mark: the check's failure counted as "not cancelled". It is now tried again
 * once the database answers.
 *
 * Nothing listens here (notifications: poll, one poll a minute): no cancel is heard but by a record.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Communicator, Transaction, Workflow, type CommunicatorContext, type TransactionContext, type WorkflowContext } from '@operon/sdk';
import { cancelWorkflows, type OperonRuntime } from '@operon/runtime';
import { CuttableProxy } from '../helpers/cuttable-proxy.js';
import { startRuntime, testConfig } from '../helpers/test-databases.js';
import { outcomeOf } from '../helpers/workflow-outcome.js';
import { workflowLatches } from '../helpers/workflow-latches.js';

const calls = new Map<string, number>();
const latches = workflowLatches();
const latch = latches.of;
const count = (uuid: string, what: string) => calls.set(`${uuid}:${what}`, (calls.get(`${uuid}:${what}`) ?? 0) + 1);

class Shop {
  @Transaction()
  static async book(ctx: TransactionContext): Promise<number> {
    latch(ctx.workflowUUID).arrive();
    await latch(ctx.workflowUUID).released;
    const { rows } = await ctx.client.query<{ v: number }>('SELECT 7 AS v');
    return rows[0]!.v;
  }

  @Communicator()
  static async charge(ctx: CommunicatorContext): Promise<string> {
    count(ctx.workflowUUID, 'charge');
    latch(ctx.workflowUUID).arrive();
    await latch(ctx.workflowUUID).released;
    return 'charged';
  }

  @Communicator()
  static async ship(ctx: CommunicatorContext): Promise<string> {
    count(ctx.workflowUUID, 'ship');
    return 'shipped';
  }

  @Workflow()
  static async afterTransaction(ctx: WorkflowContext): Promise<unknown[]> {
    return [await ctx.invoke(Shop).book(), await ctx.invoke(Shop).ship()];
  }

  @Workflow()
  static async afterCommunicator(ctx: WorkflowContext): Promise<unknown[]> {
    return [await ctx.invoke(Shop).charge(), await ctx.invoke(Shop).ship()];
  }
}

let proxy: CuttableProxy;
let runtime: OperonRuntime;

beforeAll(async () => {
  const server = inject('postgres');
  proxy = new CuttableProxy({ host: server.host, port: server.port });
  const port = await proxy.listen();
  runtime = await startRuntime(
    [Shop],
    testConfig('cancel_lost_answer', {
      database: { hostname: '127.0.0.1', port, connectionTimeoutMillis: 1_000, notifications: 'poll', pollIntervalMs: 60_000 },
      // A lost connection is logged as a warning, on purpose here.
      telemetry: { logs: { logLevel: 'error' } },
    }),
  );
});

afterAll(async () => {
  latches.releaseAll();
  proxy?.restore();
  await runtime?.destroy({ timeoutMs: 1_000 });
  await proxy?.close();
});

const outcome = (uuid: string) => outcomeOf(runtime, uuid, 8_000);

describe('a cancel unheard, whose news was in the answer lost with the record of the operation in flight', () => {
  it('stops the run at that record: the next operation never starts', async () => {
    const { systemPool, appPool } = runtime.systemDb;
    const seen: Record<string, unknown> = {};
    for (const [uuid, start] of [
      ['lost-commit', () => runtime.client.invoke(Shop, { workflowUUID: 'lost-commit' }).afterTransaction()],
      ['lost-record', () => runtime.client.invoke(Shop, { workflowUUID: 'lost-record' }).afterCommunicator()],
    ] as const) {
      await start();
      await latch(uuid).reached;
      expect(await cancelWorkflows(systemPool, { workflowUUID: uuid }, { actor: 'test' }, { appPool })).toMatchObject({ changed: 1 });
      // The next unit of work naming the workflow is the record of its operation in flight.
      const cut = proxy.loseNextCommitAnswer({ marker: uuid });
      latch(uuid).release();
      const lost = await cut;
      seen[uuid] = { cut: lost?.committed, outcome: await outcome(uuid), shipped: calls.get(`${uuid}:ship`) ?? 0 };
    }
    expect(seen).toEqual({
      'lost-commit': { cut: 'commit', outcome: 'cancelled', shipped: 0 },
      'lost-record': { cut: 'autocommit', outcome: 'cancelled', shipped: 0 },
    });
  });

  it('a lost answer to the status check after a marked commit is asked again, not taken for "not cancelled"', async () => {
    const uuid = 'lost-check';
    await runtime.client.invoke(Shop, { workflowUUID: uuid }).afterTransaction();
    await latch(uuid).reached;
    const { systemPool, appPool } = runtime.systemDb;
    expect(await cancelWorkflows(systemPool, { workflowUUID: uuid }, { actor: 'test' }, { appPool })).toMatchObject({ changed: 1 });
    // Only the check a run makes at a mark reads the status this way.
    const cut = proxy.loseNextCommitAnswer({ marker: 'workflow_uuid = $1 FOR SHARE' });
    latch(uuid).release();
    const lost = await cut;
    expect({ cut: lost?.committed, outcome: await outcome(uuid), shipped: calls.get(`${uuid}:ship`) ?? 0 }).toEqual({
      cut: 'autocommit',
      outcome: 'cancelled',
      shipped: 0,
    });
  });
});
