/**
 * Regression: `@Transaction({ isolationLevel })` was checked only by the decorator, and the level
 * that reached the transaction step was written into `BEGIN` as it was. Registrations made
 * otherwise (a bundle's own older copy of the SDK, options changed after decoration) could still
 * run SQL through it. The step now accepts the four SQL levels only and runs nothing else.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OperonDecoratorError, Transaction, type TransactionContext } from '@operon/sdk';
import type { OperonRuntime } from '@operon/runtime';
import { invokeByName, query, startRuntime } from '../helpers/test-databases.js';

class Ledger {
  @Transaction({ isolationLevel: 'SERIALIZABLE' })
  static async touch(ctx: TransactionContext): Promise<number> {
    return (await ctx.client.query('SELECT 1 AS one')).rows[0].one;
  }
}

let runtime: OperonRuntime;
beforeAll(async () => {
  runtime = await startRuntime([Ledger]);
});
afterAll(async () => {
  await runtime?.destroy();
});

describe('the isolation level at BEGIN', () => {
  it('runs no SQL but the level: anything else is refused before BEGIN', async () => {
    const fn = runtime.registry.all().find((registered) => registered.name === 'Ledger.touch')!;
    const options = fn.method.transactionOptions as { isolationLevel?: string };
    options.isolationLevel = 'SERIALIZABLE; CREATE TABLE injected_by_level(x int); --';
    try {
      const refused = await invokeByName(runtime, Ledger, 'touch', []).then(() => undefined, (error: unknown) => error);
      expect(refused).toBeInstanceOf(OperonDecoratorError);
      expect((refused as Error).message).toMatch(/^Ledger\.touch: @Transaction isolationLevel must be one of READ UNCOMMITTED, READ COMMITTED, REPEATABLE READ, SERIALIZABLE, got "SERIALIZABLE; CREATE/);
      const tables = await query(runtime.config.database.user_database, "SELECT 1 FROM pg_tables WHERE tablename = 'injected_by_level'");
      expect(tables).toEqual([]);
    } finally {
      options.isolationLevel = 'SERIALIZABLE';
    }
    expect(await invokeByName(runtime, Ledger, 'touch', [])).toBe(1);
  });
});
