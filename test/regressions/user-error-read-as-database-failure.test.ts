/**
 * Regression: database failures were recognised by message text, so a user error whose message
 * said "connection timeout while calling the tax service" (or "Connection terminated") was taken
 * for a lost database connection: never recorded, and the workflow run again and again, PENDING
 * forever. Only errors raised by Operon's own client calls count as infrastructure; a user error
 * is the operation's recorded error, whatever its message, and the workflow ends.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Communicator, Transaction, Workflow, type CommunicatorContext, type TransactionContext, type WorkflowContext } from '@operon/sdk';
import { createTestingRuntime, type TestingRuntime } from '@operon/runtime';
import { rejectionOf, within, writeAppDir, type AppDir } from '../helpers/app-dir.js';

const TAX_TIMEOUT = 'connection timeout while calling the tax service';
const TERMINATED = 'Connection terminated by the tax service';
const attempts = { transaction: 0, communicator: 0 };

class Tax {
  @Transaction()
  static async computeTax(ctx: TransactionContext, message: string): Promise<number> {
    attempts.transaction++;
    await ctx.client.query('SELECT 1');
    throw new Error(message);
  }

  @Communicator({ retriesAllowed: false })
  static async callTaxService(_ctx: CommunicatorContext, message: string): Promise<number> {
    attempts.communicator++;
    throw new Error(message);
  }

  @Workflow()
  static async viaTransaction(ctx: WorkflowContext, message: string): Promise<number> {
    return ctx.invoke(Tax).computeTax(message);
  }

  @Workflow()
  static async viaCommunicator(ctx: WorkflowContext, message: string): Promise<number> {
    return ctx.invoke(Tax).callTaxService(message);
  }

  @Workflow()
  static async caughtTransaction(ctx: WorkflowContext, message: string): Promise<string> {
    try {
      return `taxed ${await ctx.invoke(Tax).computeTax(message)}`;
    } catch (error) {
      return `caught: ${(error as Error).message}`;
    }
  }
}

let app: AppDir;
let testRuntime: TestingRuntime | undefined;

beforeAll(async () => {
  app = writeAppDir('usererror', { logLevel: 'error' });
  testRuntime = await createTestingRuntime([Tax], app.configPath);
});

afterAll(async () => {
  await testRuntime?.destroy();
  app?.remove();
});

/** The message the workflow's result rejected with, or what happened instead within 5 s. */
async function outcome(uuid: string, start: () => Promise<{ getResult(): Promise<unknown> }>) {
  const handle = await start();
  const rejected = await within(rejectionOf(handle.getResult()), 5_000, 'still running after 5 s');
  const status = (await testRuntime!.retrieveWorkflow(uuid).getStatus())?.status;
  return { error: (rejected as Error | string) instanceof Error ? (rejected as Error).message : rejected, status };
}

describe('a user error whose message reads like a database failure', () => {
  it('is the operation’s recorded error: the workflow ends (ERROR, or SUCCESS where caught), never PENDING or re-run', async () => {
    for (const [i, message] of [TAX_TIMEOUT, TERMINATED].entries()) {
      attempts.transaction = 0;
      const uuid = `tax-tx-${i}`;
      expect(await outcome(uuid, () => testRuntime!.invoke(Tax, uuid).viaTransaction(message))).toEqual({ error: message, status: 'ERROR' });
      expect(attempts.transaction).toBe(1);
    }

    attempts.transaction = 0;
    const caught = await testRuntime!.invoke(Tax, 'tax-caught-1').caughtTransaction(TAX_TIMEOUT);
    expect(await within(caught.getResult(), 5_000, 'still running after 5 s')).toBe(`caught: ${TAX_TIMEOUT}`);
    expect(attempts.transaction).toBe(1);
    expect((await caught.getStatus())?.status).toBe('SUCCESS');

    for (const [i, message] of [TAX_TIMEOUT, TERMINATED].entries()) {
      attempts.communicator = 0;
      const uuid = `tax-comm-${i}`;
      expect(await outcome(uuid, () => testRuntime!.invoke(Tax, uuid).viaCommunicator(message))).toEqual({ error: message, status: 'ERROR' });
      expect(attempts.communicator).toBe(1);
    }
  });
});
