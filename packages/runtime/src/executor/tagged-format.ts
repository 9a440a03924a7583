/**
 * Format 1 of stored values: `{"$operon":1,"value":…}`, whose value is JSON where each part JSON
 * cannot hold is a tagged object in its place (`{"$type":"Date","value":"…"}`) and a shared or
 * circular reference is `{"$type":"ref","value":n}`, the n-th object met depth first. Recorded
 * errors are written here (leniently: an error must always be recordable); a value with a shared
 * reference is the format 3 encoder's copy turned into this form (flat-format.ts `taggedTree`).
 * Every record in it still reads back.
 */
import { OperonError, OperonValueFormatError, brandOperonError, serializableClassName, serializableClassNamed, type SerializableClass } from '@operon/sdk';
import { storedTime } from './flat-format.js';
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
  listOf,
  proxiedKind,
  put,
  refuseSymbolKeys,
  through,
  unstorable,
  type StoredError,
} from './value-kinds.js';

const TYPE_KEY = '$type';
/** A sparse array's missing index (one shared node: a huge sparse array costs no object per hole). */
const HOLE = Object.freeze({ [TYPE_KEY]: 'hole' });
const UNDEFINED = Object.freeze({ [TYPE_KEY]: 'undefined' });

/**
 * One walk over a value that gives the tree format 1's JSON is written from: a copy of the value
 * in which each part JSON cannot hold is a tag. Every property is read once, by the walk: native
 * JSON.stringify then writes the copy, so it reads no getter of the app's objects a second time.
 */
export class TaggedEncoder {
  /** Set once any part is stored as a tag: the value goes in an envelope. */
  tagged = false;
  private readonly ids = new Map<object, number>();

  /** `lenient`: a part that cannot be stored becomes a string saying what it was (for errors, which must always be recordable). */
  constructor(private readonly lenient: boolean) {}

  encode(value: unknown): unknown {
    switch (typeof value) {
      case 'string':
      case 'boolean':
        return value;
      case 'number':
        if (Number.isFinite(value) && (value !== 0 || 1 / value > 0)) return value;
        this.tagged = true;
        return { $type: 'number', value: Object.is(value, -0) ? '-0' : String(value) };
      case 'bigint':
        this.tagged = true;
        return { $type: 'bigint', value: value.toString() };
      case 'undefined':
        this.tagged = true;
        return UNDEFINED;
      case 'object':
        return value === null ? null : this.object(value);
      default:
        return this.fail(value);
    }
  }

  private object(value: object): unknown {
    const id = this.ids.get(value);
    if (id !== undefined) {
      // A second sight: a shared or circular reference, which JSON would copy or refuse.
      this.tagged = true;
      return { $type: 'ref', value: id };
    }
    const proto = Object.getPrototypeOf(value) as object | null;
    if (proto === Object.prototype || proto === null || proto === Array.prototype) {
      // Native JSON writes the text and would call a toJSON it finds here (a non-enumerable own
      // one, which Object.keys does not list): the walk calls it instead, once, and stores what it
      // returns like any value, so that is walked too and the tree holds no toJSON for JSON to call.
      const toJSON = (value as { toJSON?: unknown }).toJSON;
      if (typeof toJSON === 'function') {
        const replaced: unknown = toJSON.call(value);
        if (replaced !== value) {
          this.tagged = true;
          return this.encode(replaced);
        }
      }
    }
    if (proto === Object.prototype || proto === null) {
      // Numbered only once it is known to be stored, in the order a decoder meets it.
      this.ids.set(value, this.ids.size);
      const fields = this.fields(value);
      // In an envelope an object with a `$type` key could pass for a tag: it is escaped. (As
      // plain JSON it is stored as it is: the caller writes the value itself if nothing was tagged.)
      return Object.hasOwn(value, TYPE_KEY) ? { $type: 'Object', value: fields } : fields;
    }
    if (proto === Array.prototype && Array.isArray(value)) {
      this.ids.set(value, this.ids.size);
      return this.items(value as unknown[]);
    }
    const kind = KIND_OF_PROTOTYPE.get(proto as object);
    if (kind !== undefined) {
      this.ids.set(value, this.ids.size);
      this.tagged = true;
      return { $type: kind, value: this.content(kind, value) };
    }
    if (isError(value)) {
      this.ids.set(value, this.ids.size);
      this.tagged = true;
      return { $type: 'Error', value: this.error(value) };
    }
    // Only the registered class itself: a subclass of it would come back as its parent.
    const className = serializableClassName((proto as { constructor?: unknown }).constructor);
    if (className === undefined || serializableClassNamed(className)?.prototype !== proto) return this.fail(value);
    const base = builtinBase(value);
    if (base !== undefined && !SUBCLASSABLE.has(base)) return this.fail(value);
    this.ids.set(value, this.ids.size);
    this.tagged = true;
    if (base === undefined) return { $type: 'class', class: className, value: this.fields(value) };
    // A registered subclass of a built-in: the built-in's content, then the instance's own fields.
    const content = this.content(base, value);
    return { $type: 'subclass', class: className, base, value: content, fields: this.fields(value, base === 'Array') };
  }

  /** A built-in kind's content; a Proxy around one is refused by name, not by the TypeError reading it gives. */
  private content(kind: string, value: object): unknown {
    try {
      return this.builtinContent(kind, value);
    } catch (error) {
      throw proxiedKind(value, kind) ?? error;
    }
  }

  /** What a built-in kind's tag holds as its value. */
  private builtinContent(kind: string, value: object): unknown {
    switch (kind) {
      case 'Array':
        return this.items(value as unknown[]);
      case 'Date':
        return Number.isNaN(Date.prototype.getTime.call(value)) ? null : Date.prototype.toISOString.call(value);
      case 'RegExp':
        return { source: (value as RegExp).source, flags: (value as RegExp).flags };
      case 'Map': {
        const out: unknown[] = [];
        let key: unknown;
        let atKey = true;
        // Map.prototype's forEach, not the instance's: a subclass's own iterator is app code
        // (and forEach makes no entry array per entry).
        try {
          Map.prototype.forEach.call(value, (v: unknown, k: unknown) => {
            key = k;
            atKey = true;
            const storedKey = this.encode(k);
            atKey = false;
            out.push([storedKey, this.encode(v)]);
          });
        } catch (error) {
          throw through(error, atKey ? { entry: 'key', index: out.length } : { entry: 'value', index: out.length, key });
        }
        return out;
      }
      case 'Set': {
        const out: unknown[] = [];
        try {
          Set.prototype.forEach.call(value, (member: unknown) => {
            out.push(this.encode(member));
          });
        } catch (error) {
          throw through(error, { entry: 'member', index: out.length });
        }
        return out;
      }
      default:
        // Buffer, ArrayBuffer and the typed arrays: their bytes.
        return base64(value as ArrayBufferView);
    }
  }

  /** A copy of an array's items with the tags; a hole stays a hole. */
  private items(array: unknown[]): unknown[] {
    const length = array.length;
    const out = new Array<unknown>(length);
    let i = 0;
    try {
      for (; i < length; i++) {
        const item = array[i];
        if (item === undefined && !(i in array)) {
          this.tagged = true;
          out[i] = HOLE;
        } else {
          out[i] = this.encode(item);
        }
      }
    } catch (error) {
      throw through(error, i);
    }
    return out;
  }

  /**
   * A plain copy of the own enumerable string-keyed fields of `value`, with the tags (an array's
   * index keys are skipped with `skipIndexes`, its items hold them; `skip` names keys stored elsewhere).
   */
  private fields(value: object, skipIndexes = false, skip?: readonly string[]): Record<string, unknown> {
    if (!this.lenient) refuseSymbolKeys(value);
    const keys = Object.keys(value);
    const record = value as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    let key = '';
    try {
      for (let i = 0; i < keys.length; i++) {
        key = keys[i]!;
        if ((skipIndexes && isIndexKey(key)) || (skip !== undefined && skip.includes(key))) continue;
        put(out, key, this.encode(this.lenient ? this.readLeniently(value, key) : record[key]));
      }
    } catch (error) {
      throw through(error, key);
    }
    return out;
  }

  private error(error: Error): StoredError {
    const ctor = (Object.getPrototypeOf(error) as { constructor?: unknown } | null)?.constructor;
    const registered = serializableClassName(ctor);
    const ctorName = typeof ctor === 'function' ? ctor.name : '';
    const name = this.readLeniently(error, 'name');
    const message = this.readLeniently(error, 'message');
    const stack = this.readLeniently(error, 'stack');
    const stored: StoredError = {
      className: registered ?? (BUILTIN_ERRORS.has(ctorName) ? ctorName : 'Error'),
      name: typeof name === 'string' ? name : 'Error',
      message: typeof message === 'string' ? message : '',
      ...(typeof stack === 'string' ? { stack } : {}),
      fields: {},
    };
    // A cause given to the constructor is not enumerable; one assigned is, and is kept among the
    // fields, so it comes back as it was. The cause before the fields: the order a decoder numbers objects in.
    const causeHidden = Object.getOwnPropertyDescriptor(error, 'cause')?.enumerable === false;
    if (causeHidden) {
      try {
        stored.cause = this.encode(this.readLeniently(error, 'cause'));
      } catch (failure) {
        throw through(failure, 'cause');
      }
    }
    stored.fields = this.fields(error, false, causeHidden ? ERROR_OWN_WITH_CAUSE : ERROR_OWN);
    // The brand travels only with a real Operon error: an upstream error whose `code` merely looks
    // like one (a 409 relayed by a communicator) stays a plain error.
    if (error instanceof OperonError) stored.operonCode = error.code;
    return stored;
  }

  /** A property read that may throw (a getter): lenient, a string saying so; strict, the throw goes up the walk and names the path. */
  private readLeniently(value: object, key: string): unknown {
    if (!this.lenient) return (value as Record<string, unknown>)[key];
    try {
      return (value as Record<string, unknown>)[key];
    } catch (error) {
      return `[reading it threw: ${describe(error)}]`;
    }
  }

  private fail(value: unknown): unknown {
    if (!this.lenient) throw new Unstorable(unstorable(value));
    return `[${describe(value)}]`;
  }
}

const ERROR_OWN = ['name', 'message', 'stack'];
const ERROR_OWN_WITH_CAUSE = ['name', 'message', 'stack', 'cause'];

/** True for the shared node of a sparse array's missing index. */
function isHole(node: object): boolean {
  return (node as Record<string, unknown>)[TYPE_KEY] === 'hole' && Object.hasOwn(node, TYPE_KEY);
}

/**
 * Turns an envelope's tree back into values, in place: the tree is fresh from JSON.parse, so its
 * plain objects and arrays become the values themselves and only tagged nodes are replaced.
 */
export class TaggedDecoder {
  private readonly objects: unknown[] = [];

  decode(node: unknown): unknown {
    if (typeof node !== 'object' || node === null) return node;
    if (Array.isArray(node)) {
      this.objects.push(node);
      this.items(node, node);
      return node;
    }
    const tagged = node as Record<string, unknown>;
    if (!Object.hasOwn(tagged, TYPE_KEY)) return this.plain(tagged);
    const type = tagged[TYPE_KEY];
    const value = tagged.value;
    switch (type) {
      case 'undefined':
        return undefined;
      case 'number':
        return value === '-0' ? -0 : Number(value);
      case 'bigint':
        return BigInt(String(value));
      case 'ref':
        if (typeof value !== 'number' || !(value in this.objects)) throw new OperonValueFormatError(`a stored value refers to object ${String(value)}, which it does not hold`);
        return this.objects[value];
      case 'Object':
        if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new OperonValueFormatError(`a stored Object holds ${describe(value)}, not its fields`);
        return this.plain(value as Record<string, unknown>);
      case 'Date':
      case 'RegExp':
      case 'Map':
      case 'Set':
        return this.builtin(type, value, undefined);
      case 'Buffer':
        return this.keep(Buffer.from(String(value), 'base64'));
      case 'ArrayBuffer':
        return this.keep(bytes(value));
      case 'Error':
        return this.error(value as StoredError);
      case 'class':
        return this.instance(String(tagged.class), value as Record<string, unknown>);
      case 'subclass':
        return this.subclass(tagged);
      default: {
        const typed = typeof type === 'string' ? TYPED_ARRAYS.get(type) : undefined;
        if (typed) return this.keep(new typed(bytes(value)));
        throw new OperonValueFormatError(`a stored value holds a "${String(type)}" this version of Operon cannot read`);
      }
    }
  }

  private keep<T>(value: T): T {
    this.objects.push(value);
    return value;
  }

  /** Decodes `node`'s items into `out` (`node` itself, or a new array of a subclass); a hole stays a hole. */
  private items(node: unknown[], out: unknown[]): void {
    const inPlace = out === node;
    for (let i = 0; i < node.length; i++) {
      const item: unknown = node[i];
      if (typeof item !== 'object' || item === null) {
        if (!inPlace) define(out, String(i), item);
        continue;
      }
      if (isHole(item)) {
        if (inPlace) delete out[i];
        continue;
      }
      const back = this.decode(item);
      if (!inPlace) define(out, String(i), back);
      else if (back !== item) out[i] = back;
    }
    if (!inPlace) out.length = node.length;
  }

  private plain(fields: Record<string, unknown>): Record<string, unknown> {
    this.objects.push(fields);
    const keys = Object.keys(fields);
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      const node = fields[key];
      if (typeof node !== 'object' || node === null) continue;
      const back = this.decode(node);
      if (back === node) continue;
      // Defined, not assigned: a stored `__proto__` key sets no prototype.
      if (key === '__proto__') define(fields, key, back);
      else fields[key] = back;
    }
    return fields;
  }

  /** A Date, RegExp, Map or Set; with `cls`, an instance of that registered subclass of it. */
  private builtin(type: string, value: unknown, cls: SerializableClass | undefined): object {
    switch (type) {
      case 'Date': {
        const time = storedTime(value);
        return this.keep(cls ? (Reflect.construct(Date, [time], cls) as Date) : new Date(time));
      }
      case 'RegExp': {
        const { source, flags } = value as { source: string; flags: string };
        return this.keep(cls ? (Reflect.construct(RegExp, [source, flags], cls) as RegExp) : new RegExp(source, flags));
      }
      case 'Map': {
        const map = this.keep(cls ? (Reflect.construct(Map, [], cls) as Map<unknown, unknown>) : new Map());
        for (const [k, v] of listOf(value, 'Map') as [unknown, unknown][]) {
          const key = this.decode(k);
          // Map.prototype's own set: a subclass's set is app code.
          Map.prototype.set.call(map, key, this.decode(v));
        }
        return map;
      }
      case 'Set': {
        const set = this.keep(cls ? (Reflect.construct(Set, [], cls) as Set<unknown>) : new Set());
        for (const member of listOf(value, 'Set')) Set.prototype.add.call(set, this.decode(member));
        return set;
      }
      default:
        throw new OperonValueFormatError(`a stored value holds a "${type}" this version of Operon cannot read`);
    }
  }

  /** An instance of a registered subclass of Array, Map, Set, Date or RegExp: the built-in's content, then its fields. */
  private subclass(tagged: Record<string, unknown>): object {
    const className = String(tagged.class);
    const base = String(tagged.base);
    const cls = this.registered(className);
    const baseClass = SUBCLASSABLE.get(base);
    if (baseClass === undefined || !((cls.prototype as object) instanceof baseClass)) {
      throw new OperonValueFormatError(`a stored value is an instance of class "${className}" as a subclass of "${base}", which it is not`);
    }
    let out: object;
    if (base === 'Array') {
      const items = listOf(tagged.value, 'Array');
      out = this.keep(Reflect.construct(Array, [], cls) as unknown[]);
      this.items(items, out as unknown[]);
    } else {
      out = this.builtin(base, tagged.value, cls);
    }
    const fields = (tagged.fields ?? {}) as Record<string, unknown>;
    for (const key of Object.keys(fields)) define(out, key, this.decode(fields[key]));
    return out;
  }

  private registered(className: string): SerializableClass {
    const cls = serializableClassNamed(className);
    if (cls === undefined) {
      throw new OperonValueFormatError(`a stored value is an instance of class "${className}", which is not registered here: call registerSerializableClass before reading it`);
    }
    return cls;
  }

  private instance(className: string, fields: Record<string, unknown>): object {
    const cls = this.registered(className);
    const out = this.keep(Object.create(cls.prototype as object) as object);
    for (const key of Object.keys(fields)) define(out, key, this.decode(fields[key]));
    return out;
  }

  private error(stored: StoredError): Error {
    if (typeof stored !== 'object' || stored === null) throw new OperonValueFormatError(`a stored Error holds ${describe(stored)}, not its fields`);
    const error = this.keep(errorOf(stored));
    if (Object.hasOwn(stored, 'cause')) define(error, 'cause', this.decode(stored.cause), false);
    const fields = stored.fields ?? {};
    for (const key of Object.keys(fields)) define(error, key, this.decode(fields[key]));
    if (typeof stored.operonCode === 'string') brandOperonError(error, stored.operonCode);
    return error;
  }
}
