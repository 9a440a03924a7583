/**
 * Formats 3 and 2 of stored values: `{"$operon":3,"value":…,"types":…}`. The value is plain JSON
 * with each part JSON cannot hold written as its plain content in its place (a BigInt as its
 * digits, a Date as its ISO text, a Set as its list of members, a Map as the flat list of its keys
 * and values, `[k0, v0, k1, v1, …]`; format 2, which this version still reads, wrote a Map as its
 * list of `[key, value]` entries), and `types` is a separate tree that names those places: it
 * mirrors the value down to each of them, so the value parses as plain JSON (far fewer objects
 * for JSON.parse to build than a tag object per part) and reads back by visiting only the places
 * `types` names.
 *
 * A node of `types` is one of:
 *   - a kind (`"bigint"`): the part at this place is stored as that kind's content;
 *   - an object `{key: node}`: the part here is a plain object or array; the nodes name its parts;
 *   - `[kind, {key: node}]`: the part here is that kind, and its content has parts of its own;
 *   - `{"*": node}` for a list (an array's own list, a Map's keys and values, a Set's members) whose
 *     every item has the same node: written once, not once per item (a list of records);
 *   - `{"*k": node, "*v": node}` (either may be absent) for a Map's list whose every key has the
 *     one node and every value the other.
 *
 * These formats hold no shared or circular reference: a value with one is written in format 1
 * (the encoder notes it, and the caller turns the copy into format 1).
 */
import { isProxy } from 'node:util/types';
import { OperonError, OperonValueFormatError, brandOperonError, serializableClassName, serializableClassNamed, type SerializableClass } from '@operon/sdk';
import {
  BUILTIN_ERRORS,
  KIND_OF_PROTOTYPE,
  SUBCLASSABLE,
  TYPED_ARRAYS,
  Unstorable,
  base64,
  builtinBase,
  bytes,
  define,
  describe,
  errorOf,
  isError,
  isIndexKey,
  isStackOverflow,
  listOf,
  proxiedKind,
  refuseSymbolKeys,
  through,
  unstorable,
  type StoredError,
} from './value-kinds.js';

export type TypeNode = string | TypeChildren | [string, TypeChildren];
export interface TypeChildren {
  [key: string]: TypeNode;
}

const out = through;
const DATE: object = Date.prototype;
const MAP: object = Map.prototype;
const SET: object = Set.prototype;

const TYPE_KEY = '$type';
const ERROR_OWN = ['name', 'message', 'stack'];
const ERROR_OWN_WITH_CAUSE = ['name', 'message', 'stack', 'cause'];

/** The children node of named parts that have nodes, or undefined if none has. */
function namedParts(...named: [string, TypeNode | undefined][]): TypeChildren | undefined {
  let children: TypeChildren | undefined;
  for (const [key, node] of named) if (node !== undefined) (children ??= {})[key] = node;
  return children;
}

/** The key of a list's node that applies to each of its items. */
const ALL = '*';
/** The keys of a Map list's node that apply to each of its keys, and to each of its values. */
const EACH_KEY = '*k';
const EACH_VALUE = '*v';
/** The kind of a class instance: `class:` and the name it was registered under. */
const CLASS = 'class:';
/** The kind of a registered subclass of a built-in: `subclass:`, the base's name, `:`, the class's name. */
const SUBCLASS = 'subclass:';

/**
 * One walk over a value that gives a copy of it in plain JSON and the `types` tree of the places
 * that hold something JSON cannot. Every property is read once, by the walk: native JSON.stringify
 * then writes the copy, so no getter of the app's objects is read a second time.
 */
export class FlatEncoder {
  /** Set once the value needs an envelope (a part needs a type, or a toJSON's result replaced a part). */
  tagged = false;
  /** The type node of the part the last `encode` call returned; undefined when it is plain JSON. The caller takes it. */
  node: TypeNode | undefined = undefined;
  /** Set if a shared or circular reference was met: then the copy is written in format 1. */
  references = false;
  /** The copies of plain objects that have a `$type` key (escaped if the copy is written in format 1). */
  typeKeyed: Record<string, unknown>[] | undefined;
  /** The node the next record's fields are expected to have (`ownFields` takes it), and its keys. */
  private like: TypeChildren | undefined;
  private likeKeys: string[] | undefined;
  /** Each object met, in the order format 1 numbers them (its number is its place in this set). */
  private readonly seen = new Set<object>();
  /** Each object's number, kept from the first shared reference on (finding a place in `seen` walks it). */
  private numbers: Map<object, number> | undefined;

  constructor() {
    inheritedKeys = prototypeEnumerates();
  }

  encode(value: unknown): unknown {
    switch (typeof value) {
      case 'string':
      case 'boolean':
        return value;
      case 'number':
        if (Number.isFinite(value) && (value !== 0 || 1 / value > 0)) return value;
        return this.typed('number', Object.is(value, -0) ? '-0' : String(value));
      case 'bigint':
        return this.typed('bigint', value.toString());
      case 'undefined':
        return this.typed('undefined', null);
      case 'object':
        return value === null ? null : this.object(value);
      default:
        throw new Unstorable(unstorable(value));
    }
  }

  private typed(kind: string, content: unknown, children?: TypeChildren): unknown {
    this.tagged = true;
    this.node = children === undefined ? kind : [kind, children];
    return content;
  }

  private object(value: object): unknown {
    const seen = this.seen;
    const count = seen.size;
    seen.add(value);
    if (seen.size === count) {
      // A second sight: a shared or circular reference. Formats 2 and 3 hold none: the caller
      // turns the copy into format 1, where it is the n-th object met depth first.
      this.references = true;
      return this.typed('ref', (this.numbers ??= numbered(seen)).get(value));
    }
    this.numbers?.set(value, count);
    const proto = Object.getPrototypeOf(value) as object | null;
    if (proto === Object.prototype || proto === null || proto === Array.prototype) {
      // Native JSON would call a toJSON it finds here (a non-enumerable own one, which Object.keys
      // does not list): the walk calls it instead, once, and stores what it returns like any value.
      const toJSON = (value as { toJSON?: unknown }).toJSON;
      if (typeof toJSON === 'function') {
        const replaced: unknown = toJSON.call(value);
        if (replaced !== value) {
          // Not one of the value's objects: format 1 does not number it.
          seen.delete(value);
          this.numbers?.delete(value);
          this.tagged = true;
          return this.encode(replaced);
        }
      }
      if (proto !== Array.prototype) {
        const fields = this.ownFields(value);
        // Format 1 would take it for a tag: it is escaped there if the copy turns into format 1.
        if (Object.hasOwn(value, TYPE_KEY)) (this.typeKeyed ??= []).push(fields);
        return fields;
      }
      if (Array.isArray(value)) return this.items(value as unknown[]);
    }
    // The commonest kinds by a comparison, the rest by a lookup.
    if (proto === DATE) return this.date(value as Date);
    const kind = proto === MAP ? 'Map' : proto === SET ? 'Set' : KIND_OF_PROTOTYPE.get(proto as object);
    if (kind !== undefined) return this.builtin(kind, value);
    if (isError(value)) return this.error(value);
    // Only the registered class itself: a subclass of it would come back as its parent.
    const className = serializableClassName((proto as { constructor?: unknown }).constructor);
    if (className === undefined || serializableClassNamed(className)?.prototype !== proto) throw new Unstorable(unstorable(value));
    const base = builtinBase(value);
    if (base !== undefined && !SUBCLASSABLE.has(base)) throw new Unstorable(unstorable(value));
    if (base === undefined) {
      const fields = this.ownFields(value);
      return this.typed(CLASS + className, fields, this.take() as TypeChildren | undefined);
    }
    // A registered subclass of a built-in: the built-in's content, then the instance's own fields.
    const content = this.builtinContent(base, value);
    const contentNode = this.take();
    const fields = this.fields(value, base === 'Array');
    const fieldsNode = this.take();
    return this.typed(SUBCLASS + base + ':' + className, { value: content, fields }, namedParts(['value', contentNode], ['fields', fieldsNode]));
  }

  /** An error as format 1 stores it (class, name, message, stack, fields, cause, Operon code), with the nodes of its cause and fields. */
  private error(error: Error): unknown {
    const ctor = (Object.getPrototypeOf(error) as { constructor?: unknown } | null)?.constructor;
    const registered = serializableClassName(ctor);
    const ctorName = typeof ctor === 'function' ? ctor.name : '';
    const name: unknown = error.name;
    const message: unknown = error.message;
    const stack: unknown = error.stack;
    const stored: StoredError = {
      className: registered ?? (BUILTIN_ERRORS.has(ctorName) ? ctorName : 'Error'),
      name: typeof name === 'string' ? name : 'Error',
      message: typeof message === 'string' ? message : '',
      ...(typeof stack === 'string' ? { stack } : {}),
      fields: {},
    };
    // A cause given to the constructor is not enumerable; one assigned is, and is kept among the
    // fields, so it comes back as it was. The cause before the fields: the order format 1 numbers objects in.
    const causeHidden = Object.getOwnPropertyDescriptor(error, 'cause')?.enumerable === false;
    let causeNode: TypeNode | undefined;
    if (causeHidden) {
      try {
        stored.cause = this.encode(error.cause);
      } catch (failure) {
        throw out(failure, 'cause');
      }
      causeNode = this.take();
    }
    stored.fields = this.fields(error, false, causeHidden ? ERROR_OWN_WITH_CAUSE : ERROR_OWN);
    const fieldsNode = this.take();
    // The brand travels only with a real Operon error: an upstream error whose `code` merely looks
    // like one (a 409 relayed by a communicator) stays a plain error.
    if (error instanceof OperonError) stored.operonCode = error.code;
    return this.typed('Error', stored, namedParts(['cause', causeNode], ['fields', fieldsNode]));
  }

  /** The node the last encode left, cleared for the next. */
  private take(): TypeNode | undefined {
    const node = this.node;
    this.node = undefined;
    return node;
  }

  private builtin(kind: string, value: object): unknown {
    const content = this.builtinContent(kind, value);
    return this.typed(kind, content, this.take() as TypeChildren | undefined);
  }

  /** A Date's ISO text (null for an invalid date). A Proxy around one is refused by name. */
  private date(value: Date): unknown {
    let time: number;
    try {
      time = getTime.call(value);
    } catch (error) {
      throw proxiedKind(value, 'Date') ?? error;
    }
    this.tagged = true;
    this.node = 'Date';
    return time === time ? isoText(value, time) : null;
  }

  /** A built-in kind's content, leaving the node of its parts (if any) in `node`. A Proxy around one is refused by name. */
  private builtinContent(kind: string, value: object): unknown {
    try {
      return this.kindContent(kind, value);
    } catch (error) {
      throw proxiedKind(value, kind) ?? error;
    }
  }

  private kindContent(kind: string, value: object): unknown {
    switch (kind) {
      case 'Array':
        return this.items(value as unknown[]);
      case 'Date':
        return Number.isNaN(getTime.call(value)) ? null : isoText(value as Date, getTime.call(value));
      case 'RegExp':
        return `/${(value as RegExp).source}/${(value as RegExp).flags}`;
      case 'Map': {
        const list: unknown[] = [];
        let children: TypeChildren | undefined;
        let key: unknown;
        // Map.prototype's forEach, not the instance's: a subclass's own iterator is app code.
        try {
          Map.prototype.forEach.call(value, (v: unknown, k: unknown) => {
            key = k;
            list.push(isPlainScalar(k) ? k : this.encode(k));
            if (this.node !== undefined) (children ??= {})[list.length - 1] = this.take()!;
            list.push(isPlainScalar(v) ? v : this.encode(v));
            if (this.node !== undefined) (children ??= {})[list.length - 1] = this.take()!;
          });
        } catch (error) {
          const index = list.length >> 1;
          throw out(error, list.length % 2 === 0 ? { entry: 'key', index } : { entry: 'value', index, key });
        }
        this.node = children && alikePairs(children, list.length);
        return list;
      }
      case 'Set': {
        const members: unknown[] = [];
        let children: TypeChildren | undefined;
        try {
          Set.prototype.forEach.call(value, (member: unknown) => {
            if (isPlainScalar(member)) {
              members.push(member);
              return;
            }
            const stored = this.encode(member);
            const node = this.take();
            if (node !== undefined) (children ??= {})[members.length] = node;
            members.push(stored);
          });
        } catch (error) {
          throw out(error, { entry: 'member', index: members.length });
        }
        this.node = children && alike(children, members.length);
        return members;
      }
      default:
        // Buffer, ArrayBuffer, DataView and the typed arrays: their bytes.
        return base64(value as ArrayBufferView);
    }
  }

  /** A copy of an array's items; a hole is stored as null with the kind `hole`. Leaves the items' node in `node`. */
  private items(array: unknown[]): unknown[] {
    const length = array.length;
    const copy = new Array<unknown>(length);
    // The node every item so far has (a list of records: `{"*": node}`, with no node per item);
    // the nodes one by one once two items differ.
    let each: TypeNode | undefined;
    let eachKeys: string[] | undefined;
    // The nodes alike to `each` that are not it (another key order): theirs if the items keep a node each.
    let own: TypeNode[] | undefined;
    let children: TypeChildren | undefined;
    let i = 0;
    try {
      for (; i < length; i++) {
        const item = array[i];
        let node: TypeNode | undefined;
        if (item === undefined && !(i in array)) {
          copy[i] = null;
          this.tagged = true;
          node = 'hole';
        } else if (isPlainScalar(item)) {
          copy[i] = item;
          if (each === undefined) continue;
        } else {
          if (each !== undefined && children === undefined && typeof each === 'object' && !Array.isArray(each)) {
            // A record like those before it gives the node they share, not a new one.
            this.like = each;
            this.likeKeys = eachKeys ??= Object.keys(each);
          }
          copy[i] = this.encode(item);
          this.like = undefined;
          node = this.take();
        }
        if (children === undefined) {
          if (node === undefined ? each === undefined : i === 0 || node === each || (each !== undefined && sameNode(each, node))) {
            if (each === undefined) each = node;
            else if (node !== each) (own ??= [])[i] = node!;
            continue;
          }
          // The first item unlike those before it.
          children = {};
          if (each !== undefined) for (let j = 0; j < i; j++) children[j] = own?.[j] ?? each;
        }
        if (node !== undefined) children[i] = node;
      }
    } catch (error) {
      throw out(error, i);
    }
    this.node = children ?? (each === undefined ? undefined : length >= 2 ? { [ALL]: each } : { 0: each });
    return copy;
  }

  /**
   * A plain copy of the own enumerable string-keyed fields of a plain object or class instance,
   * made by spread (each field read once, and several times faster than a field-by-field copy),
   * then its parts JSON cannot hold replaced. Leaves the fields' node in `node`.
   */
  private ownFields(value: object): Record<string, unknown> {
    refuseSymbolKeys(value);
    let copy: Record<string, unknown>;
    try {
      copy = { ...value } as Record<string, unknown>;
    } catch (error) {
      // A getter or a Proxy's trap threw. Never read again (each field is read once, and a read
      // that threw fails the value): its key is named when it needs no read to know.
      throw spreadFailure(value, error);
    }
    // The node of the records before this one in its list: while this one's fields match it,
    // key by key, no node of its own is made.
    const like = this.like;
    const likeKeys = this.likeKeys!;
    this.like = undefined;
    let matched = 0;
    let children: TypeChildren | undefined;
    let key = '';
    try {
      // for-in over the copy lists its own keys (the copy's own `__proto__` key too, a data
      // property that reads and writes as any other); a key an app made enumerable on
      // Object.prototype is listed too, and skipped.
      for (key in copy) {
        const part = copy[key];
        if (isPlainScalar(part) || !Object.hasOwn(copy, key)) continue;
        copy[key] = this.encode(part);
        const node = this.take();
        if (node === undefined) continue;
        if (children === undefined && like !== undefined) {
          // In order, nested nodes too: a record in another key order keeps its own node (its text as before).
          if (matched < likeKeys.length && likeKeys[matched] === key && sameNodeInOrder(like[key]!, node)) {
            matched++;
            continue;
          }
          children = leading(like, likeKeys, matched);
        }
        addNode((children ??= {}), key, node);
      }
    } catch (error) {
      throw out(error, key);
    }
    this.node = children ?? (matched === 0 ? undefined : matched === likeKeys.length ? like : leading(like!, likeKeys, matched));
    return copy;
  }

  /**
   * A plain copy of the own enumerable string-keyed fields of `value` (an array's index keys are
   * skipped with `skipIndexes`: its items hold them). Leaves the fields' node in `node`.
   */
  private fields(value: object, skipIndexes = false, skip?: readonly string[]): Record<string, unknown> {
    refuseSymbolKeys(value);
    const keys = Object.keys(value);
    const record = value as Record<string, unknown>;
    const copy: Record<string, unknown> = {};
    let children: TypeChildren | undefined;
    let key = '';
    try {
      for (let i = 0; i < keys.length; i++) {
        key = keys[i]!;
        if ((skipIndexes && isIndexKey(key)) || (skip !== undefined && skip.includes(key))) continue;
        const part = record[key];
        // Most parts are strings and numbers JSON holds as they are: no call, no node.
        if (isPlainScalar(part) && key !== '__proto__') {
          copy[key] = part;
          continue;
        }
        const stored = this.encode(part);
        // `__proto__` is defined, so it stays a key.
        if (key === '__proto__') {
          define(copy, key, stored);
          if (this.node !== undefined) define((children ??= {}), key, this.take());
        } else {
          copy[key] = stored;
          if (this.node !== undefined) (children ??= {})[key] = this.take()!;
        }
      }
    } catch (error) {
      throw out(error, key);
    }
    this.node = children;
    return copy;
  }
}

/**
 * Why copying `value` threw `error` (a getter, a Proxy's trap), found without reading a field
 * again: the key of its one getter if it is an ordinary object with one, else the object itself.
 */
function spreadFailure(value: object, error: unknown): unknown {
  if (isStackOverflow(error)) return error;
  if (!isProxy(value)) {
    // An ordinary object's descriptors run none of its code.
    const descriptors = Object.getOwnPropertyDescriptors(value);
    let getter: string | undefined;
    for (const key of Object.keys(descriptors)) {
      const descriptor = descriptors[key]!;
      if (descriptor.enumerable !== true || descriptor.get === undefined) continue;
      if (getter !== undefined) return new Unstorable(`threw when one of its getters was read: ${describe(error)}`, error);
      getter = key;
    }
    if (getter !== undefined) return out(error, getter);
  }
  return new Unstorable(`threw when one of its fields was read: ${describe(error)}`, error);
}

/** A children node of the first `count` of `keys` of `node`. */
function leading(node: TypeChildren, keys: readonly string[], count: number): TypeChildren {
  const children: TypeChildren = {};
  for (let i = 0; i < count; i++) addNode(children, keys[i]!, node[keys[i]!]!);
  return children;
}

/** Adds a part's node; `__proto__` is defined, so it stays a key. */
function addNode(children: TypeChildren, key: string, node: TypeNode): void {
  if (key === '__proto__') define(children, key, node);
  else children[key] = node;
}

/**
 * Each member's place in an insertion-ordered set: built once, at a value's first shared reference
 * (a value may have thousands, and walking the set for each took time in the square of its size).
 */
function numbered(set: Set<object>): Map<object, number> {
  const numbers = new Map<object, number>();
  let place = 0;
  for (const member of set) numbers.set(member, place++);
  return numbers;
}

/**
 * A Map's list of keys and values: `{"*": node}` when every item has one node, `{"*k": …, "*v": …}`
 * when every key has one node (or none) and every value another (or none); else the nodes as they are.
 */
function alikePairs(children: TypeChildren, length: number): TypeChildren {
  const all = alike(children, length);
  if (all !== children || length < 4) return all;
  const keyNode = children[0];
  const valueNode = children[1];
  for (let i = 2; i < length; i += 2) {
    const k = children[i];
    const v = children[i + 1];
    if (k === undefined ? keyNode !== undefined : keyNode === undefined || !sameNode(keyNode, k)) return children;
    if (v === undefined ? valueNode !== undefined : valueNode === undefined || !sameNode(valueNode, v)) return children;
  }
  const pairs: TypeChildren = {};
  if (keyNode !== undefined) pairs[EACH_KEY] = keyNode;
  if (valueNode !== undefined) pairs[EACH_VALUE] = valueNode;
  return pairs;
}

/** A string, boolean, null or ordinary number: JSON holds it as it is. */
function isPlainScalar(part: unknown): boolean {
  switch (typeof part) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(part) && (part !== 0 || 1 / part > 0);
    default:
      return part === null;
  }
}

/** `{"*": node}` when each of a list's `length` items has the same node; else the nodes as they are. */
function alike(children: TypeChildren, length: number): TypeChildren {
  if (length < 2) return children;
  const first = children[0];
  if (first === undefined) return children;
  for (let i = 1; i < length; i++) {
    const node = children[i];
    if (node === undefined || !sameNode(first, node)) return children;
  }
  return { [ALL]: first };
}

function sameNode(a: TypeNode, b: TypeNode): boolean {
  if (a === b) return true;
  if (typeof a === 'string' || typeof b === 'string') return false;
  if (Array.isArray(a)) return Array.isArray(b) && a[0] === b[0] && sameChildren(a[1], b[1]);
  return !Array.isArray(b) && sameChildren(a, b);
}

/**
 * Whether Object.prototype has an enumerable key (an app's or a library's): for-in then lists it on
 * every node, and reads it where a node lacks a key of its own. Found once per value written.
 */
let inheritedKeys = false;

function prototypeEnumerates(): boolean {
  for (const _ in EMPTY) return true;
  return false;
}
const EMPTY = {};

function sameChildren(a: TypeChildren, b: TypeChildren): boolean {
  if (inheritedKeys) return sameOwnChildren(a, b);
  // for-in, not Object.keys: nodes of one shape share their key list, read without a copy.
  let count = 0;
  for (const key in a) {
    const other = b[key];
    if (other === undefined || (key === '__proto__' && !Object.hasOwn(b, key)) || !sameNode(a[key]!, other)) return false;
    count++;
  }
  for (const _ in b) count--;
  return count === 0;
}

/** sameNode, with the keys of each node in the same order. */
function sameNodeInOrder(a: TypeNode, b: TypeNode): boolean {
  if (a === b) return true;
  if (typeof a === 'string' || typeof b === 'string') return false;
  if (Array.isArray(a)) return Array.isArray(b) && a[0] === b[0] && sameChildrenInOrder(a[1], b[1]);
  return !Array.isArray(b) && sameChildrenInOrder(a, b);
}

function sameChildrenInOrder(a: TypeChildren, b: TypeChildren): boolean {
  const keys = Object.keys(a);
  const other = Object.keys(b);
  if (keys.length !== other.length) return false;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    if (other[i] !== key || !sameNodeInOrder(a[key]!, b[key]!)) return false;
  }
  return true;
}

/** sameChildren by own keys only (an enumerable key on Object.prototype is no node's). */
function sameOwnChildren(a: TypeChildren, b: TypeChildren): boolean {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    if (!Object.hasOwn(b, key) || !sameNode(a[key]!, b[key]!)) return false;
  }
  return true;
}

const getTime = Date.prototype.getTime;
const getUTCFullYear = Date.prototype.getUTCFullYear;
const getUTCMonth = Date.prototype.getUTCMonth;
const getUTCDate = Date.prototype.getUTCDate;
const two = (n: number): string => (n < 10 ? '0' + n : '' + n);
const DAY_MS = 86_400_000;
/** The `YYYY-MM-DDT` text of the last day written: the dates of a list of records are often of one day. */
let lastDay = Number.NaN;
let lastDayText = '';

/**
 * A valid date's `toISOString()` text (`time`: its getTime()), written here for years 1000 to 9999 (the language's own is
 * several times slower, and a list of records is often mostly dates); other years use it.
 */
export function isoText(date: Date, time: number): string {
  const day = Math.floor(time / DAY_MS);
  if (day !== lastDay) {
    const year = getUTCFullYear.call(date);
    if (year < 1000 || year > 9999) return Date.prototype.toISOString.call(date);
    lastDayText = year + '-' + two(getUTCMonth.call(date) + 1) + '-' + two(getUTCDate.call(date)) + 'T';
    lastDay = day;
  }
  let rest = time - day * DAY_MS;
  const hours = Math.floor(rest / 3_600_000);
  rest -= hours * 3_600_000;
  const minutes = Math.floor(rest / 60_000);
  rest -= minutes * 60_000;
  const seconds = Math.floor(rest / 1000);
  const ms = rest - seconds * 1000;
  return lastDayText + two(hours) + ':' + two(minutes) + ':' + two(seconds) + (ms < 10 ? '.00' : ms < 100 ? '.0' : '.') + ms + 'Z';
}

/** The digit at `at` of `s`, or NaN if it is not one (so any bad one makes the whole sum NaN). */
function digit(s: string, at: number): number {
  const d = s.charCodeAt(at) - 48;
  return d >= 0 && d <= 9 ? d : Number.NaN;
}

/**
 * The time of a stored Date: its ISO text, or null for an invalid date (as it is written). Anything
 * else is damage, refused, not read as some date (the language's parser takes "0" for the year 2000).
 */
export function storedTime(content: unknown): number {
  if (content === null) return Number.NaN;
  const time = typeof content === 'string' ? isoTime(content) : Number.NaN;
  if (Number.isNaN(time)) throw new OperonValueFormatError(`a stored Date holds ${describe(content)}, not a date's ISO text`);
  return time;
}

/** The `YYYY-MM-DDT` text of the last day read, and its time at midnight: the dates of a list of records are often of one day. */
let readDayText = '1970-01-01T';
let readDayTime = 0;

/** The time of a date's stored text; the common `YYYY-MM-DDTHH:mm:ss.sssZ` of years 1000 to 9999 read here (the language's parser is several times slower). */
function isoTime(text: unknown): number {
  const s = String(text);
  if (s.length === 24 && s.charCodeAt(13) === 58 && s.charCodeAt(16) === 58 && s.charCodeAt(19) === 46 && s.charCodeAt(23) === 90) {
    const dayTime = s.startsWith(readDayText) ? readDayTime : dayTimeOf(s);
    const h0 = digit(s, 11), h1 = digit(s, 12), mi0 = digit(s, 14), mi1 = digit(s, 15), s0 = digit(s, 17), s1 = digit(s, 18);
    const ms0 = digit(s, 20), ms1 = digit(s, 21), ms2 = digit(s, 22);
    const hour = h0 * 10 + h1;
    const minute = mi0 * 10 + mi1;
    const second = s0 * 10 + s1;
    // NaN (a character that is no digit, or a day not read here) fails every comparison.
    if (hour <= 23 && minute <= 59 && second <= 59 && ms0 + ms1 + ms2 >= 0 && dayTime === dayTime) {
      return dayTime + hour * 3_600_000 + minute * 60_000 + second * 1000 + ms0 * 100 + ms1 * 10 + ms2;
    }
  }
  return new Date(s).getTime();
}

/** The time at midnight of the day of a date's `YYYY-MM-DDT…` text (kept for the next date read), or NaN if not a day of years 1000 to 9999. */
function dayTimeOf(s: string): number {
  if (s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 || s.charCodeAt(10) !== 84) return Number.NaN;
  const year = digit(s, 0) * 1000 + digit(s, 1) * 100 + digit(s, 2) * 10 + digit(s, 3);
  const month = digit(s, 5) * 10 + digit(s, 6);
  const day = digit(s, 8) * 10 + digit(s, 9);
  if (!(year >= 1000 && month >= 1 && month <= 12 && day >= 1 && day <= daysIn(year, month))) return Number.NaN;
  readDayText = s.slice(0, 11);
  readDayTime = daysSinceEpoch(year, month, day) * DAY_MS;
  return readDayTime;
}

/** The days from 1970-01-01 to a date of the Gregorian calendar, for years from 0 on (Date.UTC's answer, without the call). */
function daysSinceEpoch(year: number, month: number, day: number): number {
  // Counted in 400-year cycles of years that start on March 1st, so a leap day ends its year.
  const y = month <= 2 ? year - 1 : year;
  const cycle = Math.floor(y / 400);
  const yearOfCycle = y - cycle * 400;
  const dayOfYear = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const dayOfCycle = yearOfCycle * 365 + Math.floor(yearOfCycle / 4) - Math.floor(yearOfCycle / 100) + dayOfYear;
  return cycle * 146_097 + dayOfCycle - 719_468;
}

function daysIn(year: number, month: number): number {
  if (month !== 2) return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
}

/** A part of a stored value that the type tree says is missing: the array's hole there. */
const HOLE_MARK = Symbol('hole');

/**
 * What a place's content becomes when read back, chosen once per kind: the value (revive) or the
 * format 1 tag a display shows.
 */
type Reader = (kind: string) => (content: unknown) => unknown;

/** How a Map's content is laid out: format 3's flat list of keys and values, or format 2's list of entries. */
export type MapLayout = 'flat' | 'entries';

const reviveFlat: Reader = (kind) => reviverOf(kind, 'flat');
const reviveEntries: Reader = (kind) => reviverOf(kind, 'entries');
const tagFlat: Reader = (kind) => (content) => asTag(kind, content, 'flat');
const tagEntries: Reader = (kind) => (content) => asTag(kind, content, 'entries');

/**
 * The value of a format 3 (or 2) envelope, read back: the places `types` names are revived in the
 * tree JSON.parse made (a plain object or array stays itself; its typed parts are replaced in place).
 */
export function decodeFlat(value: unknown, types: unknown, maps: MapLayout): unknown {
  return maps === 'flat' ? visit(value, types, reviveFlat, true) : visit(value, types, reviveEntries, false);
}

/**
 * The value of a format 3 (or 2) envelope as format 1's tagged tree: for display (nothing is
 * revived), and to write the encoder's copy in format 1 when it met a shared reference
 * (`typeKeyed`: the plain objects with a `$type` key, escaped in place as format 1 escapes them).
 * The tree is changed in place.
 */
export function taggedTree(value: unknown, types: unknown, maps: MapLayout, typeKeyed?: readonly Record<string, unknown>[]): unknown {
  const tree = maps === 'flat' ? visit(value, types, tagFlat, true) : visit(value, types, tagEntries, false);
  for (const copy of typeKeyed ?? []) {
    const fields: Record<string, unknown> = {};
    for (const key of Object.keys(copy)) {
      define(fields, key, copy[key]);
      delete copy[key];
    }
    copy[TYPE_KEY] = 'Object';
    copy.value = fields;
  }
  return tree;
}

/**
 * The plain objects of a format 3 (or 2) value that have a `$type` key of their own, found by walking the
 * value beside its `types` (a kind's content is not one of the value's objects, its parts are): for
 * display, where format 1 escapes them so they cannot pass for a tag. Read before `taggedTree`
 * changes the tree.
 */
export function typeKeyedObjects(value: unknown, types: unknown, maps: MapLayout): Record<string, unknown>[] {
  const mapItems = maps === 'flat' ? (list: unknown, node: unknown) => each(list, node, walk) : (list: unknown, node: unknown) => each(list, node, entry);
  const found: Record<string, unknown>[] = [];
  const walk = (part: unknown, node: unknown): void => {
    if (typeof node === 'string') return content(node, part, undefined);
    if (Array.isArray(node)) return content(String(node[0]), part, node[1]);
    if (typeof part !== 'object' || part === null) return;
    if (!Array.isArray(part) && Object.hasOwn(part, TYPE_KEY)) found.push(part as Record<string, unknown>);
    const items = part as Record<string, unknown>;
    for (const key of Object.keys(items)) walk(items[key], childNode(node, key, Array.isArray(part)));
  };
  const each = (list: unknown, node: unknown, read: (item: unknown, itemNode: unknown) => void): void => {
    if (Array.isArray(list)) for (let i = 0; i < list.length; i++) read(list[i], childNode(node, String(i), true));
  };
  const entry = (pair: unknown, node: unknown): void => {
    if (Array.isArray(pair)) for (let i = 0; i < pair.length; i++) walk(pair[i], childNode(node, String(i), false));
  };
  const fieldsOf = (fields: unknown, node: unknown): void => {
    if (typeof fields !== 'object' || fields === null) return;
    for (const key of Object.keys(fields)) walk((fields as Record<string, unknown>)[key], childNode(node, key, false));
  };
  const content = (kind: string, part: unknown, children: unknown): void => {
    const at = (typeof part === 'object' && part !== null ? part : {}) as Record<string, unknown>;
    if (kind === 'Map') mapItems(part, children);
    else if (kind === 'Set') each(part, children, walk);
    else if (kind.startsWith(CLASS)) fieldsOf(part, children);
    else if (kind === 'Error') {
      if (Object.hasOwn(at, 'cause')) walk(at.cause, childNode(children, 'cause', false));
      fieldsOf(at.fields, childNode(children, 'fields', false));
    } else if (kind.startsWith(SUBCLASS)) {
      const base = kind.slice(SUBCLASS.length).split(':')[0];
      const valueNode = childNode(children, 'value', false);
      if (base === 'Map') mapItems(at.value, valueNode);
      else if (base === 'Array' || base === 'Set') each(at.value, valueNode, walk);
      fieldsOf(at.fields, childNode(children, 'fields', false));
    }
  };
  walk(value, types);
  return found;
}

/** The node of `key` among a node's children (`*`, `*k` and `*v` name items of a list), if it has one. */
function childNode(node: unknown, key: string, list: boolean): unknown {
  if (typeof node !== 'object' || node === null || Array.isArray(node)) return undefined;
  const children = node as Record<string, unknown>;
  if (list) {
    // Lenient (for display): `*k` and `*v` taken on any list.
    const each = eachItem(children, true);
    if (each === 'all') return children[ALL];
    if (each === 'pairs') return children[Number(key) % 2 === 0 ? EACH_KEY : EACH_VALUE];
  }
  return Object.hasOwn(children, key) ? children[key] : undefined;
}

/**
 * Whether a list's node names every item at once (`*`), every key and value of a Map's list (`*k`,
 * `*v`: only where `pairs`, a format 3 Map's list), or items one by one.
 */
function eachItem(children: Record<string, unknown>, pairs: boolean): 'all' | 'pairs' | undefined {
  const keys = Object.keys(children);
  if (keys.length === 1 && keys[0] === ALL) return 'all';
  if (!pairs || keys.length > 2) return undefined;
  for (let i = 0; i < keys.length; i++) if (keys[i] !== EACH_KEY && keys[i] !== EACH_VALUE) return undefined;
  return keys.length > 0 ? 'pairs' : undefined;
}

/**
 * Where a kind's content holds a Map's flat list: the content itself (a Map), its `value` (a
 * registered subclass of Map), or nowhere. Format 2 wrote a Map as entries: it has none.
 */
type MapList = 'content' | 'value' | undefined;

function mapListOf(kind: string): MapList {
  return kind === 'Map' ? 'content' : kind.startsWith(SUBCLASS + 'Map:') ? 'value' : undefined;
}

/**
 * Reads a value in place as its `types` say. Each node is turned once into a function that reads
 * the part it names, so a list's `*` node, applied to each of its items, is read once, not once
 * per item. (`flatMaps`: format 3, whose Map lists' nodes may name every key and every value at once.)
 */
function visit(value: unknown, types: unknown, read: Reader, flatMaps: boolean): unknown {
  if (types === undefined) return value;
  const part = partReader(types, read, flatMaps, undefined)(value);
  return part === HOLE_MARK ? undefined : part;
}

/** Reads a part from its content: the value it holds (a container's parts are read in place, and it is returned). */
type PartReader = (content: unknown) => unknown;

/** The reader of a part whose node is `node` (`mapList`: the part is a format 3 Map's list). */
function partReader(node: unknown, read: Reader, flatMaps: boolean, mapList: MapList): PartReader {
  if (typeof node === 'string') return read(node);
  if (Array.isArray(node)) {
    const [name, children] = node as unknown[];
    if (typeof name !== 'string') throw new OperonValueFormatError(`a stored value's types hold ${describe(name)}, not a kind`);
    const inner = partsReader(children, read, flatMaps, flatMaps ? mapListOf(name) : undefined);
    const kind = read(name);
    return (content) => {
      inner(content);
      return kind(content);
    };
  }
  const inner = partsReader(node, read, flatMaps, mapList);
  return (content) => {
    inner(content);
    return content;
  };
}

/** Reads the parts inside a container, in place. */
type PartsReader = (container: unknown) => void;

function partsReader(children: unknown, read: Reader, flatMaps: boolean, mapList: MapList): PartsReader {
  if (typeof children !== 'object' || children === null || Array.isArray(children)) throw new OperonValueFormatError(`a stored value's types hold ${describe(children)}, not a node`);
  const named = children as Record<string, unknown>;
  // `*` names each item of a list, `*k` and `*v` each key and each value of a Map's list (an
  // object's own `*` key is just a key): which one is known only from the container. Each way of
  // reading is made when first needed (a damaged node under an empty list is never read).
  const each = eachItem(named, mapList === 'content');
  let items: ((list: unknown[]) => void) | undefined;
  let keyed: PartsReader | undefined;
  return (container) => {
    if (typeof container !== 'object' || container === null) throw new OperonValueFormatError(`a stored value's types name parts inside ${describe(container)}, which has none`);
    if (each !== undefined && Array.isArray(container)) (items ??= itemsReader(named, each, read, flatMaps))(container);
    else (keyed ??= keyedReader(named, read, flatMaps, mapList))(container);
  };
}

/** The reader of a list's items, all with one node (`all`) or its keys with one and its values with another (`pairs`). */
function itemsReader(children: Record<string, unknown>, each: 'all' | 'pairs', read: Reader, flatMaps: boolean): (list: unknown[]) => void {
  if (each === 'all') {
    const item = partReader(children[ALL], read, flatMaps, undefined);
    return (list) => {
      for (let i = 0; i < list.length; i++) setItem(list, i, item(list[i]));
    };
  }
  const keyNode = children[EACH_KEY];
  const valueNode = children[EACH_VALUE];
  const key = keyNode === undefined ? undefined : partReader(keyNode, read, flatMaps, undefined);
  const value = valueNode === undefined ? undefined : partReader(valueNode, read, flatMaps, undefined);
  return (list) => {
    if (key !== undefined) for (let i = 0; i < list.length; i += 2) setItem(list, i, key(list[i]));
    if (value !== undefined) for (let i = 1; i < list.length; i += 2) setItem(list, i, value(list[i]));
  };
}

/** A list's item read back (a hole: none). */
function setItem(list: unknown[], i: number, item: unknown): void {
  if (item === HOLE_MARK) delete list[i];
  else list[i] = item;
}

/** The reader of a container's parts named one by one. */
function keyedReader(children: Record<string, unknown>, read: Reader, flatMaps: boolean, mapList: MapList): PartsReader {
  const keys = Object.keys(children);
  const readers = keys.map((key) => partReader(children[key], read, flatMaps, mapList === 'value' && key === 'value' ? 'content' : undefined));
  return (container) => {
    const parts = container as Record<string, unknown>;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      if (!Object.hasOwn(parts, key)) throw new OperonValueFormatError(`a stored value's types name a part "${key}" it does not hold`);
      const content = parts[key];
      const part = readers[i]!(content);
      if (part !== content) set(parts, key, part);
    }
  };
}

/** Defined, not assigned: a stored `__proto__` key sets no prototype. */
function set(holder: Record<string, unknown>, key: string, value: unknown): void {
  if (value === HOLE_MARK) delete holder[key];
  else if (key === '__proto__') define(holder, key, value);
  else holder[key] = value;
}

/** The reviver of a kind's content, chosen once: the commonest kinds without the switch below. */
function reviverOf(kind: string, maps: MapLayout): (content: unknown) => unknown {
  switch (kind) {
    case 'bigint':
      return (content) => BigInt(typeof content === 'string' ? content : String(content));
    case 'Date':
      return (content) => new Date(storedTime(content));
    case 'Set':
      return (content) => fillSet(new Set(), content);
    case 'Map':
      return maps === 'flat' ? (content) => fillMap(new Map(), content, 'flat') : (content) => fillMap(new Map(), content, 'entries');
    default:
      return (content) => revive(kind, content, maps);
  }
}

function revive(kind: string, content: unknown, maps: MapLayout): unknown {
  switch (kind) {
    case 'undefined':
      return undefined;
    case 'hole':
      return HOLE_MARK;
    case 'number':
      return content === '-0' ? -0 : Number(content);
    case 'bigint':
      return BigInt(typeof content === 'string' ? content : String(content));
    case 'Date':
      return new Date(storedTime(content));
    case 'RegExp':
      return regExp(content, undefined);
    case 'Map':
      return fillMap(new Map(), content, maps);
    case 'Set':
      return fillSet(new Set(), content);
    case 'Buffer':
      return Buffer.from(String(content), 'base64');
    case 'ArrayBuffer':
      return bytes(content);
    case 'Error':
      return errorFrom(content);
    default: {
      const typed = TYPED_ARRAYS.get(kind);
      if (typed) return new typed(bytes(content));
      if (kind.startsWith(CLASS)) return instance(kind.slice(CLASS.length), content);
      if (kind.startsWith(SUBCLASS)) return subclassInstance(kind.slice(SUBCLASS.length), content, maps);
      throw new OperonValueFormatError(`a stored value holds a "${kind}" this version of Operon cannot read`);
    }
  }
}

/** A RegExp's source and flags from its stored `/source/flags`. */
function pattern(content: unknown): { source: string; flags: string } {
  const text = String(content);
  const end = text.lastIndexOf('/');
  if (!text.startsWith('/') || end < 1) throw new OperonValueFormatError(`a stored RegExp holds ${describe(content)}, not /source/flags`);
  return { source: text.slice(1, end), flags: text.slice(end + 1) };
}

function regExp(content: unknown, cls: SerializableClass | undefined): RegExp {
  const { source, flags } = pattern(content);
  return cls ? (Reflect.construct(RegExp, [source, flags], cls) as RegExp) : new RegExp(source, flags);
}

/** An error from its stored form, whose cause and fields are read back already. */
function errorFrom(content: unknown): Error {
  const stored = fieldsOf(content, 'Error') as unknown as StoredError;
  const error = errorOf(stored);
  if (Object.hasOwn(stored, 'cause')) define(error, 'cause', stored.cause, false);
  copyFields(error, fieldsOf(stored.fields ?? {}, 'Error'));
  if (typeof stored.operonCode === 'string') brandOperonError(error, stored.operonCode);
  return error;
}

function fillMap(map: Map<unknown, unknown>, content: unknown, maps: MapLayout): Map<unknown, unknown> {
  const list = listOf(content, 'Map');
  if (maps === 'flat') {
    if (list.length % 2 !== 0) throw new OperonValueFormatError(`a stored Map holds a list of ${list.length} items, not its keys and values`);
    // Map.prototype's own set: a subclass's set is app code.
    for (let i = 0; i < list.length; i += 2) Map.prototype.set.call(map, list[i], list[i + 1]);
    return map;
  }
  for (const entry of list) {
    if (!Array.isArray(entry) || entry.length !== 2) throw new OperonValueFormatError(`a stored Map holds ${describe(entry)}, not a [key, value] entry`);
    // Map.prototype's own set: a subclass's set is app code.
    Map.prototype.set.call(map, entry[0], entry[1]);
  }
  return map;
}

function fillSet(set: Set<unknown>, content: unknown): Set<unknown> {
  for (const member of listOf(content, 'Set')) Set.prototype.add.call(set, member);
  return set;
}

function registered(className: string): SerializableClass {
  const cls = serializableClassNamed(className);
  if (cls === undefined) {
    throw new OperonValueFormatError(`a stored value is an instance of class "${className}", which is not registered here: call registerSerializableClass before reading it`);
  }
  return cls;
}

function fieldsOf(content: unknown, what: string): Record<string, unknown> {
  if (typeof content !== 'object' || content === null || Array.isArray(content)) throw new OperonValueFormatError(`a stored ${what} holds ${describe(content)}, not its fields`);
  return content as Record<string, unknown>;
}

function copyFields(target: object, fields: Record<string, unknown>): object {
  const keys = Object.keys(fields);
  for (let i = 0; i < keys.length; i++) define(target, keys[i]!, fields[keys[i]!]);
  return target;
}

function instance(className: string, content: unknown): object {
  const cls = registered(className);
  return copyFields(Object.create(cls.prototype as object) as object, fieldsOf(content, `instance of ${className}`));
}

function subclassInstance(kind: string, content: unknown, maps: MapLayout): object {
  const colon = kind.indexOf(':');
  const base = kind.slice(0, colon);
  const className = kind.slice(colon + 1);
  const cls = registered(className);
  const baseClass = SUBCLASSABLE.get(base);
  if (colon < 0 || baseClass === undefined || !((cls.prototype as object) instanceof baseClass)) {
    throw new OperonValueFormatError(`a stored value is an instance of class "${className}" as a subclass of "${base}", which it is not`);
  }
  const { value, fields } = fieldsOf(content, `instance of ${className}`);
  let out: object;
  switch (base) {
    case 'Array': {
      const items = listOf(value, 'Array');
      const array = Reflect.construct(Array, [], cls) as unknown[];
      for (let i = 0; i < items.length; i++) if (i in items) define(array, String(i), items[i]);
      array.length = items.length;
      out = array;
      break;
    }
    case 'Date':
      out = Reflect.construct(Date, [storedTime(value)], cls) as Date;
      break;
    case 'RegExp':
      out = regExp(value, cls);
      break;
    case 'Map':
      out = fillMap(Reflect.construct(Map, [], cls) as Map<unknown, unknown>, value, maps);
      break;
    default:
      out = fillSet(Reflect.construct(Set, [], cls) as Set<unknown>, value);
  }
  return copyFields(out, fieldsOf(fields ?? {}, `instance of ${className}`));
}

/** A place's content as format 1 holds it: `{"$type":"Date","value":"…"}` (a Map as its list of entries). */
function asTag(kind: string, content: unknown, maps: MapLayout): unknown {
  if (kind === 'undefined' || kind === 'hole') return { $type: kind };
  if (kind === 'RegExp') return { $type: kind, value: pattern(content) };
  if (kind === 'Map') return { $type: kind, value: entriesOf(content, maps) };
  if (kind.startsWith(CLASS)) return { $type: 'class', class: kind.slice(CLASS.length), value: content };
  if (kind.startsWith(SUBCLASS)) {
    const rest = kind.slice(SUBCLASS.length);
    const colon = rest.indexOf(':');
    const base = rest.slice(0, colon);
    const { value, fields } = (content ?? {}) as Record<string, unknown>;
    return { $type: 'subclass', class: rest.slice(colon + 1), base, value: base === 'Map' ? entriesOf(value, maps) : value, fields };
  }
  return { $type: kind, value: content };
}

/** A Map's stored list as `[key, value]` entries (format 3's flat list paired up; a list of an odd length is damage, not left short). */
function entriesOf(content: unknown, maps: MapLayout): unknown {
  if (maps === 'entries' || !Array.isArray(content)) return content;
  if (content.length % 2 !== 0) throw new OperonValueFormatError(`a stored Map holds a list of ${content.length} items, not its keys and values`);
  const entries: unknown[] = [];
  for (let i = 0; i + 1 < content.length; i += 2) entries.push([content[i], content[i + 1]]);
  return entries;
}
