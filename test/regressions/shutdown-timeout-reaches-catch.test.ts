/**
 * Regression: past the shutdown timeout the pools were ended under running workflows, and "Cannot
 * use a pool after calling end" reached their `catch`: a saga refunded a charge that had happened,
 * and after a restart the workflow ran on and the books showed a charge and a refund. Shutdown is
 * never an error workflow code can see: the workflow stops where it is, and after a restart on the
 * same databases it finishes from its records, the charge made exactly once and nothing refunded.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Communicator, Transaction, Workflow, type CommunicatorContext, type TransactionContext, type WorkflowContext } from '@operon/sdk';
import { createTestingRuntime, type TestingRuntime } from '@operon/runtime';
import { within, writeAppDir, type AppDir } from '../helpers/app-dir.js';

const caught: string[] = [];
let refunds = 0;
let chargeStarted: () => void = () => undefined;

class Checkout {
  /** Still running when the shutdown's timeout passes. */
  @Transaction()
  static async charge(ctx: TransactionContext, order: string, amount: number): Promise<string> {
    chargeStarted();
    await ctx.client.query('SELECT pg_sleep(0.6)');
    await ctx.client.query("INSERT INTO ledger (order_id, kind, amount) VALUES ($1, 'charge', $2)", [order, amount]);
    return `charged ${amount}`;
  }

  @Communicator({ intervalSeconds: 0.05 })
  static async ship(_ctx: CommunicatorContext, order: string): Promise<string> {
    return `shipped ${order}`;
  }

  @Communicator({ retriesAllowed: false })
  static async refund(_ctx: CommunicatorContext, _order: string, _amount: number): Promise<void> {
    refunds++;
  }

  @Workflow()
  static async checkout(ctx: WorkflowContext, order: string, amount: number): Promise<string> {
    try {
      const charged = await ctx.invoke(Checkout).charge(order, amount);
      const shipped = await ctx.invoke(Checkout).ship(order);
      return `${charged}, ${shipped}`;
    } catch (error) {
      caught.push(`${(error as Error).message}`);
      await ctx.invoke(Checkout).refund(order, amount);
      throw error;
    }
  }
}

let app: AppDir;
let first: TestingRuntime | undefined;
let second: TestingRuntime | undefined;

beforeAll(() => {
  app = writeAppDir('shutdown', {
    logLevel: 'error',
    migrations: { '001_ledger.sql': 'CREATE TABLE ledger (id SERIAL PRIMARY KEY, order_id TEXT NOT NULL, kind TEXT NOT NULL, amount INT NOT NULL);' },
  });
});

afterAll(async () => {
  await first?.destroy().catch(() => undefined);
  await second?.destroy();
  app?.remove();
});

describe('a shutdown whose timeout passes while a workflow is mid-operation', () => {
  it('shows the workflow no error; after a restart it finishes, charged once, never refunded', async () => {
    first = await createTestingRuntime([Checkout], app.configPath);
    const started = new Promise<void>((resolve) => (chargeStarted = resolve));
    await first.invoke(Checkout, 'order-1').checkout('order-1', 25);
    await started;
    await first.runtime.destroy({ timeoutMs: 50 });
    await first.destroy();
    first = undefined;
    // Whatever the stopped runtime still had in flight has had time to reach the workflow.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect({ caught, refunds }).toEqual({ caught: [], refunds: 0 });

    second = await createTestingRuntime([Checkout], app.configPath, { dropSystemDB: false });
    const result = await within(second.retrieveWorkflow('order-1').getResult(), 15_000, 'no result after 15 s');
    expect(result).toBe('charged 25, shipped order-1');
    expect((await second.retrieveWorkflow('order-1').getStatus())?.status).toBe('SUCCESS');
    const ledger = await second.queryUserDB<{ kind: string }>("SELECT kind FROM ledger WHERE order_id = 'order-1' ORDER BY id");
    expect(ledger.map((row) => row.kind)).toEqual(['charge']);
    expect({ caught, refunds }).toEqual({ caught: [], refunds: 0 });
  });
});
