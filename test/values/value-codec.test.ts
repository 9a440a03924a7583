/**
 * The value codec on its own: every kind of value the contract lists comes back as it was given;
 * a value JSON holds is stored as exactly its JSON (what every earlier record holds); errors keep
 * class, message, stack, cause and fields; hostile records revive nothing they name; an
 * unstorable value is refused with its path.
 */
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  OperonError,
  OperonNotAuthorizedError,
  OperonValueFormatError,
  OperonValueNotSerializableError,
  registerSerializableClass,
} from '@operon/sdk';
import { decodeStoredValue, encodeStoredValue, storedValueForDisplay } from '@operon/runtime';

class Money {
  constructor(
    readonly cents: bigint,
    readonly currency: string,
  ) {}
  format(): string {
    return `${this.cents} ${this.currency}`;
  }
}
class PaymentDeclined extends Error {
  constructor(
    message: string,
    readonly account: string,
  ) {
    super(message);
    this.name = 'PaymentDeclined';
  }
}
class NotRegistered {
  constructor(readonly x = 1) {}
}
registerSerializableClass(Money);
registerSerializableClass(PaymentDeclined);

function roundTrip<T>(value: T): T {
  return decodeStoredValue<T>(encodeStoredValue(value, 'value', 'the test value'));
}

describe('the value codec', () => {
  it('gives back every kind of value the contract lists', () => {
    const shared = { id: 1 };
    const circular: Record<string, unknown> = { name: 'loop' };
    circular.self = circular;
    const value = {
      date: new Date('2025-03-04T05:06:07.089Z'),
      invalidDate: new Date(Number.NaN),
      map: new Map<unknown, unknown>([['a', 1], [2, { b: new Set([3]) }]]),
      set: new Set(['x', 1n]),
      big: 2n ** 70n,
      undef: undefined,
      arrayWithUndefined: [1, undefined, 3],
      numbers: [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0, 0, 1.5],
      regexp: /a+b/giu,
      bytes: new Uint8Array([1, 2, 255]),
      floats: new Float64Array([0.5, -2]),
      bigints: new BigInt64Array([-1n, 9n]),
      buffer: Buffer.from('héllo'),
      arrayBuffer: new Uint8Array([9, 8]).buffer,
      sharedTwice: [shared, shared],
      circular,
      money: new Money(1999n, 'EUR'),
      nested: { deep: [{ deeper: new Map([['k', undefined]]) }] },
    };
    const back = roundTrip(value);
    // util.inspect shows classes, prototypes, -0, holes and undefined keys: equal text, equal values.
    expect(inspect(back, { depth: null, showHidden: false })).toBe(inspect(value, { depth: null, showHidden: false }));
    expect(back).toStrictEqual(value);
    expect(Object.is(back.numbers[3], -0)).toBe(true);
    expect('undef' in back).toBe(true);
    expect(back.sharedTwice[0]).toBe(back.sharedTwice[1]);
    expect(back.circular.self).toBe(back.circular);
    expect(back.money).toBeInstanceOf(Money);
    expect(back.money.format()).toBe('1999 EUR');
    expect(Buffer.isBuffer(back.buffer)).toBe(true);
    expect(back.arrayBuffer).toBeInstanceOf(ArrayBuffer);
    // Top-level values of every kind, undefined included.
    for (const top of [undefined, null, -0, Number.NaN, 5n, new Date(0), 'text', [undefined], new Map()]) {
      expect(roundTrip(top)).toStrictEqual(top);
    }
  });

  it('stores a value JSON holds as exactly its JSON text, and anything else in a tagged envelope', () => {
    const plain = { order: 'A-1', lines: [{ sku: 'x', qty: 2, price: 1.25 }], notes: null, paid: true, '$type': 'literal' };
    expect(encodeStoredValue(plain, 'v', 'a value')).toBe(JSON.stringify(plain));
    expect(encodeStoredValue([1, 'two'], 'v', 'a value')).toBe('[1,"two"]');
    const tagged = encodeStoredValue({ at: new Date(0) }, 'v', 'a value');
    expect(JSON.parse(tagged)).toEqual({ $operon: 3, value: { at: '1970-01-01T00:00:00.000Z' }, types: { at: 'Date' } });
    // With a shared reference: format 1, a tag in place of each such part.
    const shared = { n: 1 };
    expect(JSON.parse(encodeStoredValue({ at: new Date(0), twice: [shared, shared] }, 'v', 'a value'))).toEqual({
      $operon: 1,
      value: { at: { $type: 'Date', value: '1970-01-01T00:00:00.000Z' }, twice: [{ n: 1 }, { $type: 'ref', value: 3 }] },
    });
    // A plain object that looks like an envelope, or holds the tag key inside one, is not mistaken for one.
    const lookalike = { $operon: 1, value: { $type: 'Date', value: 'not a date' } };
    expect(roundTrip(lookalike)).toStrictEqual(lookalike);
    const tagInside = { when: new Date(1), inner: { $type: 'bigint', value: '1' } };
    expect(roundTrip(tagInside)).toStrictEqual(tagInside);
  });

  it('keeps an error\'s class, name, message, stack, cause and own fields', () => {
    const cause = new RangeError('too far');
    const error = new PaymentDeclined('declined for acct-9', 'acct-9');
    Object.assign(error, { detail: { at: new Date(7), limits: new Map([['day', 100n]]) } });
    (error as { cause?: unknown }).cause = cause;
    const back = roundTrip(error);
    expect(back).toBeInstanceOf(PaymentDeclined);
    expect(back).toBeInstanceOf(Error);
    expect(Object.prototype.toString.call(back)).toBe('[object Error]');
    expect(back.name).toBe('PaymentDeclined');
    expect(back.message).toBe('declined for acct-9');
    expect(back.stack).toBe(error.stack);
    expect(back.account).toBe('acct-9');
    expect((back as unknown as { detail: unknown }).detail).toStrictEqual({ at: new Date(7), limits: new Map([['day', 100n]]) });
    expect(back.cause).toBeInstanceOf(RangeError);
    expect((back.cause as Error).message).toBe('too far');
    // An unregistered error class comes back as an Error with its name; an Operon error keeps its brand.
    class Unregistered extends Error {}
    const plain = roundTrip(Object.assign(new Unregistered('x'), { name: 'Unregistered' }));
    expect(plain).toBeInstanceOf(Error);
    expect(plain.name).toBe('Unregistered');
    const operon = roundTrip(new OperonNotAuthorizedError('Shop.refund', ['admin']));
    expect(operon).toBeInstanceOf(OperonNotAuthorizedError);
    expect(operon).toBeInstanceOf(OperonError);
    expect(operon.requiredRoles).toEqual(['admin']);
  });

  it('refuses what cannot be stored, naming its path', () => {
    const cases: [unknown, string, RegExp][] = [
      [['ok', { callback: () => 1 }], 'inputs[1].callback', /is a function/],
      [{ s: Symbol('s') }, 'inputs.s', /is a symbol/],
      [{ cache: new WeakMap() }, 'inputs.cache', /is a WeakMap/],
      [{ pending: Promise.resolve(1) }, 'inputs.pending', /is a Promise/],
      [{ m: new Map([['k', new NotRegistered()]]) }, 'inputs.m.get("k")', /instance of NotRegistered, which is not registered: call registerSerializableClass\(NotRegistered\)/],
      [[new Set([() => 1])], 'inputs[0].values()[0]', /is a function/],
      [{ 'odd key': { f() {} } }, 'inputs["odd key"].f', /is a function/],
    ];
    for (const [value, path, reason] of cases) {
      let thrown: unknown;
      try {
        encodeStoredValue(value, 'inputs', 'the inputs of Shop.order');
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(OperonValueNotSerializableError);
      expect((thrown as OperonValueNotSerializableError).code).toBe('OPERON_ERR_VALUE_NOT_SERIALIZABLE');
      expect((thrown as OperonValueNotSerializableError).path).toBe(path);
      expect((thrown as Error).message).toContain(`the inputs of Shop.order cannot be stored: ${path} `);
      expect((thrown as Error).message).toMatch(reason);
    }
    // A subclass of a registered class is not registered: it would come back as its parent.
    class Euros extends Money {}
    expect(() => encodeStoredValue(new Euros(1n, 'EUR'), 'output', 'an output')).toThrow(/instance of Euros, which is not registered/);
  });

  it('revives nothing a hostile record names: no prototype is polluted and no code runs', () => {
    const hostile = [
      '{"$operon":1,"value":{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}}',
      '{"$operon":1,"value":{"$type":"Object","value":{"__proto__":{"$type":"Map","value":[]}}}}',
      '{"$operon":1,"value":{"$type":"Error","value":{"className":"__proto__","name":"x","message":"m","fields":{"__proto__":{"polluted":true}}}}}',
      '{"__proto__":{"polluted":true}}',
    ];
    for (const text of hostile) {
      const back = decodeStoredValue<Record<string, unknown>>(text);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(Object.getPrototypeOf(back) === Object.prototype || back instanceof Error).toBe(true);
    }
    // A class name that is not registered, even one every object has, revives nothing.
    for (const name of ['constructor', 'toString', 'Function', 'Object']) {
      expect(() => decodeStoredValue(`{"$operon":1,"value":{"$type":"class","class":"${name}","value":{}}}`)).toThrow(OperonValueFormatError);
    }
    expect(() => decodeStoredValue('{"$operon":1,"value":{"$type":"Function","value":"return 1"}}')).toThrow(/holds a "Function" this version of Operon cannot read/);
    expect(() => decodeStoredValue('{"$operon":1,"value":{"$type":"ref","value":5}}')).toThrow(OperonValueFormatError);
    expect(() => decodeStoredValue('{"$operon":4,"value":1}')).toThrow(/in format 4; this version of Operon reads formats 1, 2 and 3 and plain JSON/);
  });

  it('shows a stored value as readable JSON for display, reviving nothing', () => {
    const text = encodeStoredValue({ at: new Date(0), ids: new Set([1n]), fn: 'x' }, 'v', 'a value');
    const shown = storedValueForDisplay(text);
    expect(shown).toEqual({ at: { $type: 'Date', value: '1970-01-01T00:00:00.000Z' }, ids: { $type: 'Set', value: [{ $type: 'bigint', value: '1' }] }, fn: 'x' });
    expect(JSON.parse(JSON.stringify(shown))).toEqual(shown);
    expect(storedValueForDisplay('{"legacy":[1,2]}')).toEqual({ legacy: [1, 2] });
    expect(storedValueForDisplay(null)).toBeNull();
  });

  it('refuses a registration that is not a class or whose name another class holds', () => {
    expect(() => registerSerializableClass(42 as never)).toThrow(/registerSerializableClass needs a class, got number/);
    class Other {}
    expect(() => registerSerializableClass(Other, 'Money')).toThrow(/the name "Money" is already registered for another class/);
    expect(() => registerSerializableClass(Money, 'Cash')).toThrow(/Money is already registered as "Money"/);
    expect(() => registerSerializableClass(Money)).not.toThrow();
  });
});
