/**
 * `@Transaction({ isolationLevel })` was written into the transaction's `BEGIN` unchecked, so any
 * text that reached the option ran as SQL (`SERIALIZABLE; DROP TABLE …`). Only the four SQL
 * isolation levels are accepted now, and anything else is refused where it is written.
 */
import { describe, expect, it } from 'vitest';
import { OperonDecoratorError, Transaction, type IsolationLevel, type TransactionContext } from '@operon/sdk';

function defineWith(isolationLevel: string): { Victim: unknown } {
  class Victim {
    @Transaction({ isolationLevel: isolationLevel as IsolationLevel })
    static async touch(ctx: TransactionContext): Promise<number> {
      return (await ctx.client.query('SELECT 1 AS one')).rows[0].one;
    }
  }
  return { Victim };
}

describe('the isolation level of a transaction', () => {
  it('is refused, naming the allowed levels, when it is not one of them', () => {
    const injected = 'SERIALIZABLE; DROP TABLE precious; --';
    let Victim: unknown;
    let refused: unknown;
    try {
      ({ Victim } = defineWith(injected));
    } catch (error) {
      refused = error;
    }
    expect(Victim).toBeUndefined();
    expect(refused).toBeInstanceOf(OperonDecoratorError);
    expect((refused as Error).message).toBe(
      '@Transaction isolationLevel must be one of READ UNCOMMITTED, READ COMMITTED, REPEATABLE READ, SERIALIZABLE, got "SERIALIZABLE; DROP TABLE precious; --"',
    );
  });

  it('accepts each SQL level', () => {
    for (const level of ['READ UNCOMMITTED', 'READ COMMITTED', 'REPEATABLE READ', 'SERIALIZABLE']) {
      expect(() => defineWith(level)).not.toThrow();
    }
  });
});
