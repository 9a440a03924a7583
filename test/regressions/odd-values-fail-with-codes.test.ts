/**
 * Odd values and damaged records fail with the codec's own errors, never a bare TypeError: a
 * Proxy whose traps throw (or a revoked one) is an unstorable value naming its path; a stored
 * record whose tag holds the wrong shape is a record this version cannot read. A sparse array
 * keeps its holes.
 */
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { OperonValueFormatError, OperonValueNotSerializableError } from '@operon/sdk';
import { decodeStoredValue, encodeStoredValue } from '@operon/runtime';

function encodeError(value: unknown): unknown {
  try {
    encodeStoredValue(value, 'output', 'the output of probe');
  } catch (error) {
    return error;
  }
  throw new Error('expected the value to be refused');
}

describe('values the codec cannot walk', () => {
  it('a Proxy whose ownKeys trap throws is refused with its path', () => {
    const error = encodeError({ items: [new Proxy({}, { ownKeys: () => { throw new Error('trap'); } })] });
    expect(error).toBeInstanceOf(OperonValueNotSerializableError);
    expect((error as OperonValueNotSerializableError).path).toBe('output.items[0]');
  });

  it('a Proxy whose getPrototypeOf trap throws is refused with its path', () => {
    const error = encodeError({ a: new Proxy({}, { getPrototypeOf: () => { throw new Error('trap'); } }) });
    expect(error).toBeInstanceOf(OperonValueNotSerializableError);
    expect((error as OperonValueNotSerializableError).path).toBe('output.a');
  });

  it('a revoked Proxy is refused with its path', () => {
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    const error = encodeError({ a: new Map([['k', proxy]]) });
    expect(error).toBeInstanceOf(OperonValueNotSerializableError);
    expect((error as OperonValueNotSerializableError).path).toBe('output.a.get("k")');
  });
});

describe('damaged records', () => {
  const damaged = [
    '{"$operon":1,"value":{"$type":"Object","value":null}}',
    '{"$operon":1,"value":{"$type":"RegExp","value":null}}',
    '{"$operon":1,"value":{"$type":"RegExp","value":{"source":"(","flags":""}}}',
    '{"$operon":1,"value":{"$type":"Map","value":5}}',
    '{"$operon":1,"value":{"$type":"Set","value":"abc"}}',
    '{"$operon":1,"value":{"$type":"bigint","value":"zz"}}',
    '{"$operon":1,"value":{"$type":"Error","value":null}}',
    '{"$operon":1,"value":{"$type":"Float64Array","value":"AAAA"}}',
    '{"$operon":1,"value":{"$type":"class","class":"Nope","value":null}}',
  ];
  for (const text of damaged) {
    it(`${text} is a record this version cannot read`, () => {
      expect(() => decodeStoredValue(text)).toThrow(OperonValueFormatError);
    });
  }
});

describe('sparse arrays', () => {
  it('keep their holes', () => {
    // eslint-disable-next-line no-sparse-arrays
    const sparse: unknown[] = [1, , 3, undefined];
    sparse[7] = 'last';
    const back = decodeStoredValue<unknown[]>(encodeStoredValue(sparse, 'value', 'probe'));
    expect(back.length).toBe(8);
    expect(1 in back).toBe(false);
    expect(3 in back).toBe(true);
    expect(inspect(back)).toBe(inspect(sparse));
  });

  it('a hole outside an array is a record this version cannot read', () => {
    expect(() => decodeStoredValue('{"$operon":1,"value":{"a":{"$type":"hole"}}}')).toThrow(OperonValueFormatError);
  });
});
