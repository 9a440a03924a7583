/**
 * A subclass of Map, Set, Date, Array or RegExp was stored as its base kind and came back as a
 * plain Map, Set, Date or array, its class and own fields lost without a word; a symbol-keyed
 * property was dropped the same way. Now a registered subclass comes back as itself (contents, own
 * fields, prototype, no constructor run), an unregistered one is refused naming its path, and a
 * symbol-keyed property is refused as a symbol value or a function is.
 */
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { OperonValueFormatError, OperonValueNotSerializableError, registerSerializableClass } from '@operon/sdk';
import { decodeStoredValue, encodeStoredValue } from '@operon/runtime';

let constructed = 0;
class Inventory extends Map<string, number> {
  label = 'main';
  constructor(entries?: [string, number][]) {
    super(entries);
    constructed++;
  }
  total(): number {
    let sum = 0;
    for (const n of this.values()) sum += n;
    return sum;
  }
}
class Tags extends Set<string> {
  override has(value: string): boolean {
    return super.has(value.toLowerCase());
  }
}
class Deadline extends Date {
  late(now: number): boolean {
    return now > this.getTime();
  }
}
class Path extends Array<string> {
  joined(): string {
    return this.join('/');
  }
}
class Pattern extends RegExp {}
class Unregistered extends Map<string, number> {}
class UnregisteredDay extends Date {}
class UnregisteredList extends Array<number> {}
class Bytes extends Uint8Array {}
registerSerializableClass(Inventory);
registerSerializableClass(Tags);
registerSerializableClass(Deadline);
registerSerializableClass(Path);
registerSerializableClass(Pattern);
registerSerializableClass(Bytes);

function roundTrip<T>(value: T): T {
  return decodeStoredValue<T>(encodeStoredValue(value, 'output', 'the output of probe'));
}

function refusal(value: unknown): OperonValueNotSerializableError {
  try {
    encodeStoredValue(value, 'output', 'the output of probe');
  } catch (error) {
    expect(error).toBeInstanceOf(OperonValueNotSerializableError);
    expect((error as OperonValueNotSerializableError).code).toBe('OPERON_ERR_VALUE_NOT_SERIALIZABLE');
    return error as OperonValueNotSerializableError;
  }
  throw new Error('expected the value to be refused');
}

describe('subclasses of built-in kinds', () => {
  it('a registered subclass comes back as itself: contents, own fields and methods, no constructor run', () => {
    const stock = new Inventory([['apples', 3], ['pears', 4]]);
    stock.label = 'north';
    const path = Path.from(['usr', 'local']) as Path;
    (path as unknown as { root: boolean }).root = true;
    const value = { stock, tags: new Tags(['a', 'b']), due: new Deadline(5000), path, pattern: new Pattern('a+', 'g') };
    const before = constructed;
    const back = roundTrip(value);
    expect(constructed).toBe(before);
    expect(back.stock).toBeInstanceOf(Inventory);
    expect(back.stock.total()).toBe(7);
    expect(back.stock.label).toBe('north');
    expect([...back.stock]).toEqual([['apples', 3], ['pears', 4]]);
    expect(back.tags).toBeInstanceOf(Tags);
    expect(back.tags.has('A')).toBe(true);
    expect(back.due).toBeInstanceOf(Deadline);
    expect(back.due.getTime()).toBe(5000);
    expect(back.due.late(6000)).toBe(true);
    expect(back.path).toBeInstanceOf(Path);
    expect(Array.isArray(back.path)).toBe(true);
    expect(back.path.joined()).toBe('usr/local');
    expect((back.path as unknown as { root: boolean }).root).toBe(true);
    expect(back.pattern).toBeInstanceOf(Pattern);
    expect(back.pattern.source).toBe('a+');
    expect(back.pattern.flags).toBe('g');
    expect(inspect(back, { depth: null })).toBe(inspect(value, { depth: null }));
  });

  it('a registered subclass keeps shared and circular references to itself', () => {
    const stock = new Inventory();
    const value = { a: stock, b: stock };
    const back = roundTrip(value);
    expect(back.a).toBe(back.b);
    const holder = new Path();
    holder.push('x');
    (holder as unknown as { self: unknown }).self = holder;
    const again = roundTrip(holder);
    expect((again as unknown as { self: unknown }).self).toBe(again);
  });

  it('an unregistered subclass is refused, naming its path, its class and what to do', () => {
    const map = refusal({ stock: new Unregistered() });
    expect(map.path).toBe('output.stock');
    expect(map.message).toBe(
      'the output of probe cannot be stored: output.stock is an instance of Unregistered, a subclass of Map, which is not registered: call registerSerializableClass(Unregistered) to store its instances with their class, or pass a plain Map',
    );
    expect(refusal([new UnregisteredDay(0)]).path).toBe('output[0]');
    expect(refusal(new Map([['k', UnregisteredList.of(1)]])).path).toBe('output.get("k")');
    // A registered subclass of bytes has no stored form: refused rather than read back as its parent.
    expect(refusal({ b: new Bytes(2) }).message).toContain('output.b is an instance of Bytes, a subclass of a typed array; a subclass of a typed array cannot be stored');
  });

  it('a record naming a class as a subclass of a kind it does not extend is refused on read', () => {
    expect(() => decodeStoredValue('{"$operon":1,"value":{"$type":"subclass","class":"Deadline","base":"Map","value":[],"fields":{}}}')).toThrow(OperonValueFormatError);
    expect(() => decodeStoredValue('{"$operon":1,"value":{"$type":"subclass","class":"Inventory","base":"Function","value":[],"fields":{}}}')).toThrow(OperonValueFormatError);
    expect(() => decodeStoredValue('{"$operon":1,"value":{"$type":"subclass","class":"Nope","base":"Map","value":[],"fields":{}}}')).toThrow(OperonValueFormatError);
  });
});

describe('symbol-keyed properties', () => {
  it('an enumerable one is refused with its path, as a symbol value is', () => {
    const tag = Symbol('tag');
    const error = refusal({ meta: { ok: 1, [tag]: 'x' } });
    expect(error.path).toBe('output.meta[Symbol(tag)]');
    expect(error.message).toContain('output.meta[Symbol(tag)] is a symbol-keyed property, which cannot be stored');
  });

  it('a non-enumerable one is not stored, like any non-enumerable property', () => {
    const value = { ok: 1 };
    Object.defineProperty(value, Symbol('hidden'), { value: 2, enumerable: false });
    expect(encodeStoredValue(value, 'output', 'probe')).toBe('{"ok":1}');
  });
});
