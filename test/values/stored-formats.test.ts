/**
 * The stored formats side by side: a value without shared references is written in format 3
 * (plain JSON, with the places of the kinds JSON cannot hold in a separate `types` tree, a list of
 * alike records named once, a Map as the flat list of its keys and values); one with them in
 * format 1 (a tag in place of each part); records of formats 1 and 2, as earlier versions wrote
 * them, and plain JSON still read back; damaged records of formats 2 and 3 are refused. Also: each getter is read once, a Proxy around a Map, Set or Date
 * is refused by name with its path, and `#private` fields behave as docs/values.md says.
 */
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { OperonValueFormatError, OperonValueNotSerializableError, registerSerializableClass } from '@operon/sdk';
import { decodeStoredValue, encodeStoredValue, storedValueForDisplay } from '@operon/runtime';

class Money {
  constructor(
    readonly cents: bigint,
    readonly currency: string,
  ) {}
}
class Inventory extends Map<string, bigint> {
  warehouse = 'north';
}
class Declined extends Error {
  constructor(
    message: string,
    readonly account: string,
  ) {
    super(message);
    this.name = 'Declined';
  }
}
/** State in a `#private` field, and the same state in an ordinary field (the documented workaround). */
class Vault {
  #secret: string;
  label: string;
  constructor(secret: string, label: string) {
    this.#secret = secret;
    this.label = label;
  }
  reveal(): string {
    return this.#secret;
  }
}
class Locker {
  /** TypeScript's `private`: hidden from other code at compile time, an ordinary field at run time. */
  private secret: string;
  constructor(secret: string) {
    this.secret = secret;
  }
  reveal(): string {
    return this.secret;
  }
}
registerSerializableClass(Money, 'FormatMoney');
registerSerializableClass(Inventory, 'FormatInventory');
registerSerializableClass(Declined, 'FormatDeclined');
registerSerializableClass(Vault, 'FormatVault');
registerSerializableClass(Locker, 'FormatLocker');

const show = (value: unknown): string => inspect(value, { depth: null, sorted: true, breakLength: Number.POSITIVE_INFINITY });
const encode = (value: unknown): string => encodeStoredValue(value, 'value', 'the test value');

/** Every kind without a shared reference or an error. */
function flatValue(): Record<string, unknown> {
  const inventory = new Inventory([['apples', 3n]]);
  const value: Record<string, unknown> = {
    date: new Date('2025-03-04T05:06:07.089Z'),
    invalidDate: new Date(Number.NaN),
    oldDate: new Date('0050-01-01T00:00:00.000Z'),
    farDate: new Date(8.64e15),
    map: new Map<unknown, unknown>([['a', 1], [new Date(5), { b: new Set([3n]) }]]),
    set: new Set(['x', 1n]),
    big: 2n ** 70n,
    undef: undefined,
    list: [1, undefined, 3],
    // eslint-disable-next-line no-sparse-arrays
    sparse: [1, , 3],
    numbers: [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0, 1.5],
    regexp: /a+b\//giu,
    bytes: new Uint8Array([1, 2, 255]),
    floats: new Float64Array([0.5, -2]),
    buffer: Buffer.from('héllo'),
    arrayBuffer: new Uint8Array([9, 8]).buffer,
    money: new Money(1999n, 'EUR'),
    inventory,
    typeKey: { $type: 'literal', '*': { n: 1n } },
  };
  Object.defineProperty(value, '__proto__', { value: { kept: new Date(1) }, enumerable: true, writable: true, configurable: true });
  return value;
}

describe('the stored formats', () => {
  it('writes a value without shared references in format 3: plain JSON, with its kinds named beside it', () => {
    const value = flatValue();
    const text = encode(value);
    const stored = JSON.parse(text) as { $operon: number; value: Record<string, unknown>; types: Record<string, unknown> };
    expect(stored.$operon).toBe(3);
    // The value part is plain JSON an operator reads as it is: no tag objects in it.
    expect(stored.value.date).toBe('2025-03-04T05:06:07.089Z');
    expect(stored.value.big).toBe('1180591620717411303424');
    expect(stored.value.set).toEqual(['x', '1']);
    expect(stored.value.map).toEqual(['a', 1, '1970-01-01T00:00:00.005Z', { b: ['3'] }]);
    expect(stored.value.regexp).toBe('/a+b\\//giu');
    expect(stored.value.typeKey).toEqual({ $type: 'literal', '*': { n: '1' } });
    expect(text).not.toMatch(/"\$type":"(Date|bigint|Map|Set)"/);
    expect(stored.types).toMatchObject({ date: 'Date', big: 'bigint', set: ['Set', { 1: 'bigint' }], map: ['Map', { 2: 'Date', 3: { b: ['Set', { 0: 'bigint' }] } }], sparse: { 1: 'hole' }, money: ['class:FormatMoney', { cents: 'bigint' }] });
    const back = decodeStoredValue<Record<string, unknown>>(text);
    expect(show(back)).toBe(show(value));
    expect(back).toStrictEqual(value);
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
    expect(Object.is((back.numbers as number[])[3], -0)).toBe(true);
    expect(1 in (back.sparse as unknown[])).toBe(false);
    expect(back.inventory).toBeInstanceOf(Inventory);
    expect((back.inventory as Inventory).warehouse).toBe('north');
    for (const top of [undefined, -0, Number.NaN, 5n, new Date(0), [undefined], new Map([[1n, new Set([2n])]]), new Money(1n, 'X')]) {
      expect(show(decodeStoredValue(encode(top)))).toBe(show(top));
    }
  });

  it('names the kinds of a list of alike records once, and each item of a list that differs', () => {
    const orders = Array.from({ length: 5 }, (_, i) => ({ id: BigInt(i), at: new Date(i), tags: new Set([`t${i}`]), attributes: new Map([['size', i]]) }));
    const stored = JSON.parse(encode({ orders, ids: [1n, 2n, 3n], byDay: new Map([['mon', new Date(1)], ['tue', new Date(2)]]) })) as { types: unknown };
    expect(stored.types).toEqual({
      orders: { '*': { id: 'bigint', at: 'Date', tags: 'Set', attributes: 'Map' } },
      ids: { '*': 'bigint' },
      byDay: ['Map', { '*v': 'Date' }],
    });
    // A Map whose keys all have one kind and values another, or keys and values all one kind.
    const pairs = { byDate: new Map([[new Date(1), 'a'], [new Date(2), 'b']]), big: new Map([[1n, 2n], [3n, 4n]]), both: new Map([[1n, new Date(1)], [2n, new Date(2)]]) };
    expect((JSON.parse(encode(pairs)) as { types: unknown }).types).toEqual({ byDate: ['Map', { '*k': 'Date' }], big: ['Map', { '*': 'bigint' }], both: ['Map', { '*k': 'bigint', '*v': 'Date' }] });
    expect(show(decodeStoredValue(encode(pairs)))).toBe(show(pairs));
    // A Map whose `*k` or `*v` key is a key, never a list's node.
    const starMap = new Map<unknown, unknown>([['*k', new Date(1)], ['*v', 1n]]);
    expect(show(decodeStoredValue(encode(starMap)))).toBe(show(starMap));
    expect(show(decodeStoredValue(encode(orders)))).toBe(show(orders));
    // One item differs, or has no kind at all: each item is named on its own.
    const mixed = [{ at: new Date(1) }, { at: 'text' }, { at: new Date(2) }];
    expect((JSON.parse(encode(mixed)) as { types: unknown }).types).toEqual({ 0: { at: 'Date' }, 2: { at: 'Date' } });
    expect(show(decodeStoredValue(encode(mixed)))).toBe(show(mixed));
    // An object's own "*" key is a key, never a list's node.
    const starKey = { '*': new Date(3), other: 1 };
    expect(decodeStoredValue(encode(starKey))).toStrictEqual(starKey);
  });

  it('writes a value with a shared or circular reference in format 1, and an error in a value in format 3', () => {
    const shared = { n: 1n };
    const circular: Record<string, unknown> = { at: new Date(0) };
    circular.self = circular;
    const error = new Declined('declined', 'acct-2');
    const looped = Object.assign(new Declined('looped', 'acct-3'), { again: undefined as unknown });
    looped.again = looped;
    for (const value of [[shared, shared], circular, { looped }, new Map([['e', looped]]), { a: { $type: 'x', shared }, shared }]) {
      const text = encode(value);
      expect((JSON.parse(text) as { $operon: number }).$operon).toBe(1);
      expect(show(decodeStoredValue(text))).toBe(show(value));
    }
    const back = decodeStoredValue<Record<string, unknown>>(encode(circular));
    expect(back.self).toBe(back);
    // An error without a reference back to itself: format 3, with its class, cause and fields.
    (error as { cause?: unknown }).cause = new RangeError('limit', { cause: 5n });
    const given = { error, list: [new TypeError('t')] };
    const text = encode(given);
    expect(JSON.parse(text)).toMatchObject({ $operon: 3, types: { error: ['Error', { fields: { cause: ['Error', { cause: 'bigint' }] } }], list: { 0: 'Error' } } });
    const read = decodeStoredValue<{ error: Declined; list: TypeError[] }>(text);
    expect(read.error).toBeInstanceOf(Declined);
    expect(read.error.stack).toBe(error.stack);
    expect(read.error.account).toBe('acct-2');
    expect(read.error.cause).toBeInstanceOf(RangeError);
    expect((read.error.cause as Error).cause).toBe(5n);
    expect(read.list[0]).toBeInstanceOf(TypeError);
    expect(show(read)).toBe(show(given));
  });

  it('reads records of formats 1 and 2 and plain JSON, as earlier versions wrote them', () => {
    // Written by the format 2 codec (a Map as its list of entries), as format 3 holds the rest.
    const format2 = '{"$operon":2,"value":{"map":[["a",1],["1970-01-01T00:00:00.005Z",{"b":["3"]}]],"byDay":[["mon","1970-01-01T00:00:00.001Z"],["tue","1970-01-01T00:00:00.002Z"]],"inventory":{"value":[["apples","3"]],"fields":{"warehouse":"north"}},"at":"1970-01-01T00:00:00.000Z"},"types":{"map":["Map",{"1":{"0":"Date","1":{"b":["Set",{"*":"bigint"}]}}}],"byDay":["Map",{"*":{"1":"Date"}}],"inventory":["subclass:Map:FormatInventory",{"value":{"*":{"1":"bigint"}}}],"at":"Date"}}';
    const written2 = {
      map: new Map<unknown, unknown>([['a', 1], [new Date(5), { b: new Set([3n]) }]]),
      byDay: new Map([['mon', new Date(1)], ['tue', new Date(2)]]),
      inventory: new Inventory([['apples', 3n]]),
      at: new Date(0),
    };
    expect(show(decodeStoredValue(format2))).toBe(show(written2));
    expect(storedValueForDisplay(format2)).toEqual(storedValueForDisplay(encode(written2)));
    // Written by the format 1 codec (before format 2 existed), every kind in one record.
    const format1 = String.raw`{"$operon":1,"value":{"date":{"$type":"Date","value":"2025-03-04T05:06:07.089Z"},"invalidDate":{"$type":"Date","value":null},"map":{"$type":"Map","value":[["a",1],[2,{"b":{"$type":"Set","value":[{"$type":"bigint","value":"3"}]}}]]},"set":{"$type":"Set","value":["x",{"$type":"bigint","value":"1"}]},"big":{"$type":"bigint","value":"1180591620717411303424"},"undef":{"$type":"undefined"},"list":[1,{"$type":"undefined"},3],"sparse":[1,{"$type":"hole"},3],"numbers":[{"$type":"number","value":"NaN"},{"$type":"number","value":"Infinity"},{"$type":"number","value":"-Infinity"},{"$type":"number","value":"-0"},1.5],"regexp":{"$type":"RegExp","value":{"source":"a+b\\/","flags":"giu"}},"bytes":{"$type":"Uint8Array","value":"AQL/"},"floats":{"$type":"Float64Array","value":"AAAAAAAA4D8AAAAAAAAAwA=="},"buffer":{"$type":"Buffer","value":"aMOpbGxv"},"arrayBuffer":{"$type":"ArrayBuffer","value":"CQg="},"sharedTwice":[{"id":1},{"$type":"ref","value":16}],"circular":{"name":"loop","self":{"$type":"ref","value":17}},"money":{"$type":"class","class":"FormatMoney","value":{"cents":{"$type":"bigint","value":"1999"},"currency":"EUR"}},"inventory":{"$type":"subclass","class":"FormatInventory","base":"Map","value":[["apples",{"$type":"bigint","value":"3"}]],"fields":{"warehouse":"north"}},"error":{"$type":"Error","value":{"className":"FormatDeclined","name":"Declined","message":"declined","stack":"Declined: declined\n    at old (old.js:1:1)","fields":{"account":"acct-1","cause":{"$type":"Error","value":{"className":"RangeError","name":"RangeError","message":"limit","stack":"RangeError: limit\n    at old (old.js:2:2)","fields":{}}}}}},"typeKey":{"$type":"Object","value":{"$type":"literal"}}}}`;
    const shared = { id: 1 };
    const circular: Record<string, unknown> = { name: 'loop' };
    circular.self = circular;
    const error = new Declined('declined', 'acct-1');
    error.stack = 'Declined: declined\n    at old (old.js:1:1)';
    const cause = new RangeError('limit');
    cause.stack = 'RangeError: limit\n    at old (old.js:2:2)';
    (error as { cause?: unknown }).cause = cause;
    const expected = {
      date: new Date('2025-03-04T05:06:07.089Z'),
      invalidDate: new Date(Number.NaN),
      map: new Map<unknown, unknown>([['a', 1], [2, { b: new Set([3n]) }]]),
      set: new Set(['x', 1n]),
      big: 2n ** 70n,
      undef: undefined,
      list: [1, undefined, 3],
      // eslint-disable-next-line no-sparse-arrays
      sparse: [1, , 3],
      numbers: [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0, 1.5],
      regexp: /a+b\//giu,
      bytes: new Uint8Array([1, 2, 255]),
      floats: new Float64Array([0.5, -2]),
      buffer: Buffer.from('héllo'),
      arrayBuffer: new Uint8Array([9, 8]).buffer,
      sharedTwice: [shared, shared],
      circular,
      money: new Money(1999n, 'EUR'),
      inventory: new Inventory([['apples', 3n]]),
      error,
      typeKey: { $type: 'literal' },
    };
    const back = decodeStoredValue<typeof expected>(format1);
    expect(show(back)).toBe(show(expected));
    // And a value with a shared reference is still written exactly so.
    expect(encode(expected)).toBe(format1);
    expect(back.sharedTwice[0]).toBe(back.sharedTwice[1]);
    expect(back.circular.self).toBe(back.circular);
    expect(back.error).toBeInstanceOf(Declined);
    expect(back.error.cause).toBeInstanceOf(RangeError);
    // Plain JSON, as every record before the envelope holds it.
    expect(decodeStoredValue('{"at":"2020-01-01T00:00:00.000Z","list":[1,null],"$type":"Date"}')).toStrictEqual({ at: '2020-01-01T00:00:00.000Z', list: [1, null], $type: 'Date' });
    // For display every format shows the same tagged tree.
    const format1Small = '{"$operon":1,"value":{"at":{"$type":"Date","value":"1970-01-01T00:00:00.000Z"},"n":{"$type":"bigint","value":"5"}}}';
    expect(storedValueForDisplay(encode({ at: new Date(0), n: 5n }))).toEqual(storedValueForDisplay(format1Small));
    expect(storedValueForDisplay(encode({ m: new Money(1n, 'X'), s: [1, , undefined] }))).toEqual({
      m: { $type: 'class', class: 'FormatMoney', value: { cents: { $type: 'bigint', value: '1' }, currency: 'X' } },
      s: [1, { $type: 'hole' }, { $type: 'undefined' }],
    });
  });

  it('refuses a damaged record of format 2 or 3, and revives nothing a hostile one names', () => {
    const damaged = [
      '{"$operon":3,"value":{"a":1},"types":{"b":"Date"}}',
      '{"$operon":3,"value":{"a":[1]},"types":{"a":"Map"}}',
      '{"$operon":3,"value":{"a":[1,2,3]},"types":{"a":"Map"}}',
      '{"$operon":3,"value":{"a":5},"types":{"a":"Map"}}',
      '{"$operon":3,"value":{"a":["x","zz"]},"types":{"a":["Map",{"*v":"bigint"}]}}',
      '{"$operon":3,"value":{"a":{"value":[1],"fields":{}}},"types":{"a":"subclass:Map:FormatInventory"}}',
      '{"$operon":2,"value":{"a":1},"types":{"b":"Date"}}',
      '{"$operon":2,"value":{"a":1},"types":{"a":{"x":"Date"}}}',
      '{"$operon":2,"value":{"a":"x"},"types":{"a":"Function"}}',
      '{"$operon":2,"value":{"a":"zz"},"types":{"a":"bigint"}}',
      '{"$operon":2,"value":{"a":5},"types":{"a":"Map"}}',
      '{"$operon":2,"value":{"a":[1]},"types":{"a":"Map"}}',
      '{"$operon":2,"value":{"a":"abc"},"types":{"a":"Set"}}',
      '{"$operon":2,"value":{"a":"("},"types":{"a":"RegExp"}}',
      '{"$operon":2,"value":{"a":{}},"types":{"a":"class:Nope"}}',
      '{"$operon":2,"value":{"a":{}},"types":{"a":"class:constructor"}}',
      '{"$operon":2,"value":{"a":null},"types":{"a":"class:FormatMoney"}}',
      '{"$operon":2,"value":{"a":{"value":[]}},"types":{"a":"subclass:Set:FormatInventory"}}',
      '{"$operon":2,"value":{"a":1},"types":{"a":[5,{}]}}',
      '{"$operon":2,"value":{"a":1},"types":{"a":7}}',
    ];
    for (const text of damaged) expect(() => decodeStoredValue(text), text).toThrow(OperonValueFormatError);
    const hostile = decodeStoredValue<Record<string, unknown>>('{"$operon":2,"value":{"__proto__":{"at":"1970-01-01T00:00:00.000Z"}},"types":{"__proto__":{"at":"Date"}}}');
    expect(Object.getPrototypeOf(hostile)).toBe(Object.prototype);
    expect(Object.keys(hostile)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).at).toBeUndefined();
  });

  it('reads each getter once while storing a value, in either format', () => {
    let reads = 0;
    const counted = (): Record<string, unknown> =>
      Object.defineProperty({}, 'total', {
        get: () => {
          reads++;
          return 5;
        },
        enumerable: true,
      });
    const cases: [string, (c: Record<string, unknown>) => unknown][] = [
      ['plain', (c) => c],
      ['before a Date', (c) => Object.assign(c, { at: new Date(0) })],
      ['inside a Map', (c) => new Map([['k', c]])],
      ['beside a shared reference (format 1)', (c) => { const s = {}; return { c, s, again: s }; }],
      ['an error\'s field', (c) => Object.assign(new Declined('x', 'a'), { c })],
      ['a registered instance', (c) => Object.defineProperties(new Money(1n, 'X'), Object.getOwnPropertyDescriptors(c))],
    ];
    for (const [name, make] of cases) {
      reads = 0;
      const text = encode(make(counted()));
      expect(reads, name).toBe(1);
      expect(text, name).toContain('"total":5');
    }
  });

  it('refuses a Proxy around a Map, Set or Date by name, with its path', () => {
    const cases: [unknown, string][] = [
      [{ stock: new Proxy(new Map([['a', 1]]), {}) }, 'output.stock is a Proxy wrapping a Map, which cannot be stored: a Map\'s contents cannot be read through a Proxy; pass the Map itself'],
      [[1, new Proxy(new Set([1]), {})], 'output[1] is a Proxy wrapping a Set, which cannot be stored: a Set\'s contents cannot be read through a Proxy; pass the Set itself'],
      [{ at: new Proxy(new Date(0), {}), twice: [1, 1] }, 'output.at is a Proxy wrapping a Date, which cannot be stored: a Date\'s contents cannot be read through a Proxy; pass the Date itself'],
      [{ inv: new Proxy(new Inventory(), {}) }, 'output.inv is a Proxy wrapping a Map, which cannot be stored: a Map\'s contents cannot be read through a Proxy; pass the Map itself'],
    ];
    for (const [value, message] of cases) {
      let thrown: unknown;
      try {
        encodeStoredValue(value, 'output', 'the output of Shop.stock');
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(OperonValueNotSerializableError);
      expect((thrown as Error).message).toBe(`the output of Shop.stock cannot be stored: ${message}`);
    }
    // A shared reference sends the value to format 1, which names the Proxy the same way.
    const shared = {};
    expect(() => encodeStoredValue({ a: shared, b: shared, m: new Proxy(new Map(), {}) }, 'output', 'the output of Shop.stock')).toThrow(
      'the output of Shop.stock cannot be stored: output.m is a Proxy wrapping a Map',
    );
    // A Proxy around a plain object or an array is read through its traps, as JSON reads it.
    const proxied = { list: new Proxy([1n, 2n], {}), fields: new Proxy({ at: new Date(0) }, {}) };
    expect(decodeStoredValue(encode(proxied))).toStrictEqual({ list: [1n, 2n], fields: { at: new Date(0) } });
  });

  it('stores a registered class\'s ordinary fields but not its #private ones, as documented', () => {
    const vault = decodeStoredValue<Vault>(encode(new Vault('s3cret', 'main')));
    expect(vault).toBeInstanceOf(Vault);
    expect(vault.label).toBe('main');
    // The revived instance was made without its constructor: it has no #secret, and reading one throws.
    expect(() => vault.reveal()).toThrow(TypeError);
    expect(() => vault.reveal()).toThrow(/private member #secret/);
    // The workaround: an ordinary field (TypeScript's `private` is one) is stored and comes back.
    const locker = decodeStoredValue<Locker>(encode(new Locker('s3cret')));
    expect(locker).toBeInstanceOf(Locker);
    expect(locker.reveal()).toBe('s3cret');
  });
});
