import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { StatementBatcher } from '../packages/runtime/src/system-db/statement-batcher.js';

function recorder(fail: (items: readonly string[]) => Error | undefined) {
  const writes: string[][] = [];
  const batcher = new StatementBatcher<string>(async (items) => {
    writes.push([...items]);
    const error = fail(items);
    if (error) throw error;
  }, 3);
  return { writes, batcher };
}

describe('StatementBatcher', () => {
  it('writes what arrives in one event-loop turn together, in batches of at most its size', async () => {
    const { writes, batcher } = recorder(() => undefined);
    await Promise.all(['a', 'b', 'c', 'd'].map((item) => batcher.add(item)));
    await batcher.add('e');
    expect(writes).toEqual([['a', 'b', 'c'], ['d'], ['e']]);
  });

  it('retries each item alone when a batch fails, so one bad item fails only itself', async () => {
    const { writes, batcher } = recorder((items) => (items.includes('bad') ? Object.assign(new pg.DatabaseError('invalid input value', 0, 'error'), { code: '22P02' }) : undefined));
    const results = await Promise.allSettled(['a', 'bad', 'c'].map((item) => batcher.add(item)));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(writes).toEqual([['a', 'bad', 'c'], ['a'], ['bad'], ['c']]);
  });

  it('fails the whole batch at once when the database is away', async () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    const { writes, batcher } = recorder(() => refused);
    const results = await Promise.allSettled(['a', 'b'].map((item) => batcher.add(item)));
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(writes).toEqual([['a', 'b']]);
  });
});
