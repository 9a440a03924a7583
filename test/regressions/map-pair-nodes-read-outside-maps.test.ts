/**
 * Regression: format 3 names every key of a Map's flat list `[k0, v0, k1, v1, …]` at once with a
 * `*k` node and every value with `*v`. The reader took those two names on any list, and in format 2
 * records too, which never had them: a format 2 record (or any list that is not a Map's) whose
 * types say `{"*k": "bigint"}` was read as a list with every other item a BigInt instead of being
 * refused as damaged. They are read only where the writer puts them now: on a Map's list in format 3.
 */
import { describe, expect, it } from 'vitest';
import { OperonValueFormatError, registerSerializableClass } from '@operon/sdk';
import { decodeStoredValue, encodeStoredValue } from '@operon/runtime';

class Ledger extends Map<bigint, Date> {}
registerSerializableClass(Ledger, 'PairNodesLedger');

const record = (format: number, value: unknown, types: unknown): string => JSON.stringify({ $operon: format, value, types });

describe("a Map list's *k and *v nodes", () => {
  it('are refused on a list that is not a Map, and in format 2', () => {
    expect(() => decodeStoredValue(record(3, { a: ['1', 2, '3'] }, { a: { '*k': 'bigint' } }))).toThrow(OperonValueFormatError);
    expect(() => decodeStoredValue(record(3, { s: ['1', 2] }, { s: ['Set', { '*v': 'bigint' }] }))).toThrow(OperonValueFormatError);
    expect(() => decodeStoredValue(record(2, { a: ['1', 2, '3'] }, { a: { '*k': 'bigint' } }))).toThrow(OperonValueFormatError);
    expect(() => decodeStoredValue(record(2, { m: [['1', 2]] }, { m: ['Map', { '*k': { '0': 'bigint' } }] }))).toThrow(OperonValueFormatError);
  });

  it("are read on a Map's list, and a registered Map subclass's, as the writer puts them", () => {
    const value = { m: new Map([[1n, new Date(1)], [2n, new Date(2)]]), ledger: new Ledger([[3n, new Date(3)], [4n, new Date(4)]]) };
    const text = encodeStoredValue(value, 'output', 'the output of Books.close');
    expect(text).toContain('"*k":"bigint","*v":"Date"');
    expect(decodeStoredValue(text)).toEqual(value);
    const shared = new Date(5);
    const withReference = { ...value, shared, again: shared };
    expect(decodeStoredValue(encodeStoredValue(withReference, 'output', 'the output of Books.close'))).toEqual(withReference);
  });
});
