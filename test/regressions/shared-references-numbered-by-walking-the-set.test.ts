/**
 * Regression: the encoder found the number of a shared or circular reference (the n-th object met,
 * as format 1 writes it) by walking its set of every object met so far, from the start, at each
 * reference: a value whose many objects are each met twice (rows listed and indexed by id, a graph)
 * took time in the square of its size. 40 000 rows `{ id, at }`, each in a list and in a Map by id,
 * took 16.5 to 19.8 s to write (the encoder before it, 0.8 to 1.1 s; load average 9 to 12 on two
 * cores), the event loop held all along: no heartbeat, the lease lapsing. Now the numbers are kept
 * once the first reference is met, so each reference costs one lookup.
 *
 * The steps are counted through the language's own Set iterator (no part of Operon is replaced),
 * so the test does not depend on the machine's speed.
 */
import { describe, expect, it } from 'vitest';
import { decodeStoredValue, encodeStoredValue } from '@operon/runtime';

/** The steps taken by every iteration of a Set while `run` runs. */
function setSteps(run: () => void): number {
  const original = Set.prototype[Symbol.iterator];
  let steps = 0;
  Set.prototype[Symbol.iterator] = function counted(this: Set<unknown>) {
    const iterator = original.call(this);
    return {
      next: () => {
        steps++;
        return iterator.next();
      },
      [Symbol.iterator]() {
        return this;
      },
    } as unknown as SetIterator<unknown>;
  } as typeof original;
  try {
    run();
  } finally {
    Set.prototype[Symbol.iterator] = original;
  }
  return steps;
}

describe('a value with many shared references', () => {
  it('is written in format 1 in steps that grow with its size, not with its square', () => {
    const rows = Array.from({ length: 2000 }, (_, id) => ({ id, at: new Date(id) }));
    const value = { rows, byId: new Map(rows.map((row) => [row.id, row])) };
    let text = '';
    const steps = setSteps(() => {
      text = encodeStoredValue(value, 'output', 'the output of Rows.list');
    });
    expect(JSON.parse(text).$operon).toBe(1);
    // A walk or two of its 6 003 objects at most, not one per reference (about 2 000 × 4 000).
    expect(steps).toBeLessThanOrEqual(2 * 6003);
    const back = decodeStoredValue<typeof value>(text);
    expect(back.byId.get(1999)).toBe(back.rows[1999]);
    expect(back.rows[5]).toEqual({ id: 5, at: new Date(5) });
  });
});
