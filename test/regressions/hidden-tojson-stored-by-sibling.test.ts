/**
 * The encoder hands the value's own plain objects and arrays to native JSON.stringify, which calls
 * a toJSON it finds on them (a non-enumerable own one, which the walk's Object.keys never sees).
 * So what such an object was stored as depended on its neighbours: alone, its toJSON's result;
 * beside a Date, its fields (the copy on the way to the tag has no toJSON). And the toJSON's
 * result was never walked: a Map in it was stored as `{}` and a BigInt in it threw from inside
 * JSON.stringify. Now the walk calls toJSON itself, once, and stores its result like any value.
 */
import { describe, expect, it } from 'vitest';
import { OperonValueNotSerializableError } from '@operon/sdk';
import { decodeStoredValue, encodeStoredValue } from '@operon/runtime';

/** A plain object whose JSON is `json()`, by a toJSON Object.keys does not list. */
function withHiddenToJSON(fields: Record<string, unknown>, json: () => unknown): Record<string, unknown> {
  return Object.defineProperty(fields, 'toJSON', { value: json, enumerable: false });
}

const roundTrip = (value: unknown): unknown => decodeStoredValue(encodeStoredValue(value, 'output', 'the output of T.run'));

describe('a plain object with a toJSON', () => {
  it('is stored as its toJSON whatever its neighbours are', () => {
    const alone = roundTrip({ price: withHiddenToJSON({ cents: 150 }, () => '1.50') });
    const besideDate = roundTrip({ price: withHiddenToJSON({ cents: 150 }, () => '1.50'), at: new Date(0) });
    const atTop = roundTrip(withHiddenToJSON({ cents: 150, at: new Date(0) }, () => '1.50'));
    expect(alone).toEqual({ price: '1.50' });
    expect(besideDate).toEqual({ price: '1.50', at: new Date(0) });
    expect(atTop).toBe('1.50');
  });

  it("keeps what its toJSON's result holds, and names the path of what cannot be stored in it", () => {
    const back = roundTrip([withHiddenToJSON({}, () => ({ seen: new Map([['a', 1]]), count: 2n }))]) as [{ seen: Map<string, number>; count: bigint }];
    expect(back[0].seen).toEqual(new Map([['a', 1]]));
    expect(back[0].count).toBe(2n);
    let thrown: unknown;
    try {
      encodeStoredValue({ item: withHiddenToJSON({}, () => ({ run: () => 1 })) }, 'output', 'the output of T.run');
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(OperonValueNotSerializableError);
    expect((thrown as Error).message).toContain('output.item.run is a function');
  });

  it('a plain value with no toJSON is still stored as exactly its JSON', () => {
    const value = { a: [1, 'x', { b: null }] };
    expect(encodeStoredValue(value, 'output', 'the output of T.run')).toBe(JSON.stringify(value));
  });
});
