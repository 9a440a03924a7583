/**
 * Regression: a record of a list whose fields are those of the records before it in another order
 * (`{n, at}` after `{at, n}`), at its top or in a nested object, was given their node. Read back
 * it is the same value, but when a later item differs (so the list's items keep a node each) the
 * stored text was no longer the text written before for the same value: the record's node was
 * written in the first record's key order, not its own. Each item keeps its own node then; a list
 * whose items are all alike is still written with one node.
 */
import { describe, expect, it } from 'vitest';
import { decodeStoredValue, encodeStoredValue } from '@operon/runtime';

const typesOf = (value: unknown): string => JSON.stringify((JSON.parse(encodeStoredValue(value, 'output', 'the output of Records.list')) as { types: unknown }).types);

describe('records of a list in another key order', () => {
  it('keep their own node when the list has one per item', () => {
    // A Date apiece: one Date reached twice is a shared reference, written in format 1.
    const at = (): Date => new Date(0);
    expect(typesOf([{ at: at(), n: 1n }, { n: 2n, at: at() }, { plain: 1 }])).toBe('{"0":{"at":"Date","n":"bigint"},"1":{"n":"bigint","at":"Date"}}');
    expect(typesOf([{ x: { a: at(), b: 1n } }, { x: { b: 2n, a: at() } }, 3])).toBe('{"0":{"x":{"a":"Date","b":"bigint"}},"1":{"x":{"b":"bigint","a":"Date"}}}');
    expect(typesOf([{ at: at(), n: 1n }, { n: 2n, at: at() }, { at: at(), n: 3n }, 1n])).toBe('{"0":{"at":"Date","n":"bigint"},"1":{"n":"bigint","at":"Date"},"2":{"at":"Date","n":"bigint"},"3":"bigint"}');
  });

  it('share one node when every item is alike, and read back as stored', () => {
    const value = [{ at: new Date(1), n: 1n }, { n: 2n, at: new Date(2) }];
    expect(typesOf(value)).toBe('{"*":{"at":"Date","n":"bigint"}}');
    expect(decodeStoredValue(encodeStoredValue(value, 'output', 'the output of Records.list'))).toEqual(value);
  });
});
