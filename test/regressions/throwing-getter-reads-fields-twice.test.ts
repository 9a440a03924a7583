/**
 * Regression: a plain object is copied by spread, and when the spread threw (a getter or a Proxy's
 * trap) the object was read again field by field to name the part that threw. So every getter
 * before the one that threw was read twice, a Proxy's `get` trap ran twice for those keys, and a
 * getter that throws only on its first read (a lazy value, a flaky source) was read a second
 * time and stored: the value was saved though a read of it had failed. Each property is read once,
 * and a read that throws fails the value, naming its path.
 */
import { describe, expect, it } from 'vitest';
import { OperonValueNotSerializableError } from '@operon/sdk';
import { encodeStoredValue } from '@operon/runtime';

const store = (value: unknown): string => encodeStoredValue(value, 'output', 'the output of Getters.read');

describe('an object whose getter throws', () => {
  const failureOf = (value: unknown): OperonValueNotSerializableError => {
    try {
      store(value);
    } catch (error) {
      return error as OperonValueNotSerializableError;
    }
    throw new Error('stored');
  };

  it('has each getter read once, and the one that threw named', () => {
    const reads: string[] = [];
    const value = {
      get first() {
        reads.push('first');
        return 1;
      },
      plain: 2n,
      get second() {
        reads.push('second');
        throw new Error('second is gone');
      },
    };
    const failure = failureOf({ list: [{ id: 1n }, value] });
    expect(failure).toBeInstanceOf(OperonValueNotSerializableError);
    // Which of two getters threw is not known without reading them again: the object is named.
    expect(failure.path).toBe('output.list[1]');
    expect(failure.message).toContain('second is gone');
    expect(reads).toEqual(['first', 'second']);

    const one = { plain: 1, get only(): number {
      reads.push('only');
      throw new Error('only is gone');
    } };
    reads.length = 0;
    expect(failureOf({ list: [{ id: 1n }, one] }).path).toBe('output.list[1].only');
    expect(reads).toEqual(['only']);
  });

  it('that throws only on its first read fails the value: it is not read again and stored', () => {
    let reads = 0;
    const value = {
      get lazy() {
        reads++;
        if (reads === 1) throw new Error('not ready');
        return 'ready';
      },
    };
    expect(() => store(value)).toThrow(/reading output\.lazy threw: Error: not ready/);
    expect(reads).toBe(1);
  });

  it('behind a Proxy has each trap run once per key, and the Proxy named', () => {
    const gets: string[] = [];
    const proxy = new Proxy({ a: 1, b: { c: 2n }, d: 3 } as Record<string, unknown>, {
      get(target, key, receiver) {
        if (typeof key === 'string') gets.push(key);
        if (key === 'd') throw new Error('d is gone');
        return Reflect.get(target, key, receiver) as unknown;
      },
    });
    const failure = failureOf(proxy);
    expect(failure).toBeInstanceOf(OperonValueNotSerializableError);
    expect(failure.path).toBe('output');
    expect(failure.message).toContain('d is gone');
    expect(gets.filter((key) => key !== 'toJSON')).toEqual(['a', 'b', 'd']);
  });
});
