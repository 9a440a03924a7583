/**
 * Regression: the nodes of a list's records were compared key by key with for-in, which also lists
 * a key an app (or a library) made enumerable on Object.prototype. A record with its own key of
 * that name and a record without it then compared alike whenever the inherited value equalled the
 * own node (`Object.prototype.kind = 'Date'`, and a record with a Date at `kind`): the list was
 * written with one node for both, so the record without the key was read back as damaged (a part
 * "kind" it does not hold) and the stored text differed from the text written before. Nodes
 * compare by their own keys only.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { decodeStoredValue, encodeStoredValue } from '@operon/runtime';

const KEYS = ['kind'];

afterEach(() => {
  for (const key of KEYS) delete (Object.prototype as Record<string, unknown>)[key];
});

function pollute(key: string, value: unknown): void {
  Object.defineProperty(Object.prototype, key, { value, enumerable: true, configurable: true, writable: true });
}

describe('records of a list under an Object.prototype with an enumerable key', () => {
  it('that differ in that key read back as stored', () => {
    pollute('kind', 'Date');
    const value = [{ id: 1n, kind: new Date(0) }, { id: 2n }];
    const text = encodeStoredValue(value, 'output', 'the output of Records.list');
    expect(JSON.parse(text).types).toEqual({ 0: { id: 'bigint', kind: 'Date' }, 1: { id: 'bigint' } });
    const back = decodeStoredValue<Record<string, unknown>[]>(text);
    expect(Object.hasOwn(back[1]!, 'kind')).toBe(false);
    expect(back[0]!.kind).toEqual(new Date(0));
    expect(back[1]!.id).toBe(2n);
  });

  it('in a nested node, or on the record without its own key first', () => {
    pollute('kind', 'bigint');
    const value = { a: [{ n: { kind: 5n } }, { n: {} }], b: [{ x: 1n }, { x: 2n, kind: 3n }] };
    const text = encodeStoredValue(value, 'output', 'the output of Records.list');
    expect(JSON.parse(text).types).toEqual({ a: { 0: { n: { kind: 'bigint' } } }, b: { 0: { x: 'bigint' }, 1: { x: 'bigint', kind: 'bigint' } } });
    const back = decodeStoredValue<typeof value>(text);
    expect(JSON.stringify(back, (_, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))).toBe(JSON.stringify(value, (_, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)));
    expect(Object.hasOwn(back.a[1]!.n, 'kind')).toBe(false);
    expect(back.b[1]!.kind).toBe(3n);
  });
});
