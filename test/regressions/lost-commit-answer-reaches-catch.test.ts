/**
 * Regression: a transaction whose `INSERT output; COMMIT` committed but whose answer was lost with
 * its connection was thrown into the workflow as "Connection terminated unexpectedly". A saga's
 * `catch` then refunded a debit that had happened, and the workflow ended SUCCESS on that belief.
 * The same held for a communicator whose output record lost its connection. A database failure
 * never reaches workflow code: the workflow reads what was recorded and goes on with it.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Communicator, Transaction, Workflow, type CommunicatorContext, type TransactionContext, type WorkflowContext } from '@operon/sdk';
import { createTestingRuntime, type TestingRuntime } from '@operon/runtime';
import { CuttableProxy } from '../helpers/cuttable-proxy.js';
import { within, writeAppDir, type AppDir } from '../helpers/app-dir.js';

let proxy: CuttableProxy;
let app: AppDir;
let testRuntime: TestingRuntime | undefined;
/** Set by a test: the operation that loses the answer to the statement that records it. */
let loseRecordAnswer = false;
const caught: string[] = [];
let debits = 0;
let refunds = 0;
let shipments = 0;

class Saga {
  @Transaction()
  static async debit(ctx: TransactionContext, account: string, amount: number): Promise<string> {
    debits++;
    await ctx.client.query("INSERT INTO ledger (account, kind, amount) VALUES ($1, 'debit', $2)", [account, amount]);
    // The next statement on any connection is the runtime's `INSERT output; COMMIT`.
    if (loseRecordAnswer) {
      loseRecordAnswer = false;
      proxy.swallowNextAnswer();
    }
    return `debited ${amount} from ${account}`;
  }

  @Transaction()
  static async refund(ctx: TransactionContext, account: string, amount: number): Promise<void> {
    refunds++;
    await ctx.client.query("INSERT INTO ledger (account, kind, amount) VALUES ($1, 'refund', $2)", [account, amount]);
  }

  @Workflow()
  static async pay(ctx: WorkflowContext, account: string, amount: number): Promise<string> {
    try {
      return await ctx.invoke(Saga).debit(account, amount);
    } catch (error) {
      caught.push(`${(error as Error).message}`);
      await ctx.invoke(Saga).refund(account, amount);
      return 'refunded';
    }
  }

  @Communicator({ intervalSeconds: 0.05 })
  static async ship(_ctx: CommunicatorContext, parcel: string): Promise<string> {
    shipments++;
    // The next statement on any connection is the runtime's record of this output.
    if (loseRecordAnswer) {
      loseRecordAnswer = false;
      proxy.swallowNextAnswer();
    }
    return `shipped ${parcel}`;
  }

  @Workflow()
  static async deliver(ctx: WorkflowContext, parcel: string): Promise<string> {
    try {
      return await ctx.invoke(Saga).ship(parcel);
    } catch (error) {
      caught.push(`${(error as Error).message}`);
      return 'not shipped';
    }
  }
}

beforeAll(async () => {
  const server = inject('postgres');
  proxy = new CuttableProxy({ host: server.host, port: server.port });
  const port = await proxy.listen();
  app = writeAppDir('lostcommit', {
    database: { hostname: '127.0.0.1', port, connectionTimeoutMillis: 1_000 },
    // A lost connection is logged as a warning, on purpose here.
    logLevel: 'error',
    migrations: { '001_ledger.sql': 'CREATE TABLE ledger (id SERIAL PRIMARY KEY, account TEXT NOT NULL, kind TEXT NOT NULL, amount INT NOT NULL);' },
  });
  testRuntime = await createTestingRuntime([Saga], app.configPath);
});

afterAll(async () => {
  proxy?.restore();
  await testRuntime?.destroy();
  await proxy?.close();
  app?.remove();
});

describe('an operation whose record committed but whose answer was lost', () => {
  it('a transaction: the saga goes on with the recorded debit, never compensates', async () => {
    caught.length = 0;
    loseRecordAnswer = true;
    const handle = await testRuntime!.invoke(Saga, 'saga-42').pay('alice', 30);
    const result = await within(handle.getResult(), 15_000, 'no result after 15 s');

    expect({ result, caught, refunds }).toEqual({ result: 'debited 30 from alice', caught: [], refunds: 0 });
    // The books, not a counter, say whether the debit happened once: a transaction whose commit
    // did not happen may run again, one whose commit did must not.
    expect(debits).toBeGreaterThanOrEqual(1);
    const ledger = await testRuntime!.queryUserDB<{ kind: string }>("SELECT kind FROM ledger WHERE account = 'alice' ORDER BY id");
    expect(ledger.map((row) => row.kind)).toEqual(['debit']);
    expect((await handle.getStatus())?.status).toBe('SUCCESS');
  });

  it('a communicator: no exception in workflow code, and it does not run again', async () => {
    caught.length = 0;
    loseRecordAnswer = true;
    const handle = await testRuntime!.invoke(Saga, 'ship-42').deliver('parcel-7');
    const result = await within(handle.getResult(), 15_000, 'no result after 15 s');

    expect({ result, caught, shipments }).toEqual({ result: 'shipped parcel-7', caught: [], shipments: 1 });
    expect((await handle.getStatus())?.status).toBe('SUCCESS');
  });
});
