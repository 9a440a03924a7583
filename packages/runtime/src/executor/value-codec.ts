/**
 * The stored form of values: JSON text an operator can query. A value JSON holds as it is (no
 * `undefined`, no special number, no shared object, nothing but plain objects and arrays) is
 * stored as its plain JSON, exactly as every record before this codec was. Anything else is
 * stored in an envelope that names its format, `{"$operon":1,"value":…}`, whose value is JSON
 * where each value JSON cannot hold is a tagged object `{"$type":"Date","value":"…"}`.
 *
 * Reading never runs code a record names: a class is looked up by name among the registered
 * ones (a Map, so `constructor` or `__proto__` finds nothing), its constructor never runs, and
 * every key is defined, never assigned, so a stored `__proto__` key is just a key.
 */
import {
  OperonError,
  OperonValueFormatError,
  OperonValueNotSerializableError,
  brandOperonError,
  serializableClassName,
  serializableClassNamed,
  type SerializableClass,
} from '@operon/sdk';

/** The envelope's key and the one format this runtime writes; a later format gets a new number. */
export const ENVELOPE_KEY = '$operon';
export const FORMAT = 1;
const TYPE_KEY = '$type';
/** A sparse array's missing index (one shared node: a huge sparse array costs no object per hole). */
const HOLE = Object.freeze({ [TYPE_KEY]: 'hole' });

const TYPED_ARRAYS: ReadonlyMap<string, new (buffer: ArrayBuffer) => ArrayBufferView> = new Map<string, new (buffer: ArrayBuffer) => ArrayBufferView>([
  ['Int8Array', Int8Array],
  ['Uint8Array', Uint8Array],
  ['Uint8ClampedArray', Uint8ClampedArray],
  ['Int16Array', Int16Array],
  ['Uint16Array', Uint16Array],
  ['Int32Array', Int32Array],
  ['Uint32Array', Uint32Array],
  ['Float32Array', Float32Array],
  ['Float64Array', Float64Array],
  ['BigInt64Array', BigInt64Array],
  ['BigUint64Array', BigUint64Array],
  ['DataView', DataView],
]);

/** Error classes revived by name without registration: the language's own. */
const BUILTIN_ERRORS: ReadonlyMap<string, ErrorConstructor> = new Map<string, ErrorConstructor>([
  ['Error', Error],
  ['TypeError', TypeError],
  ['RangeError', RangeError],
  ['SyntaxError', SyntaxError],
  ['ReferenceError', ReferenceError],
  ['EvalError', EvalError],
  ['URIError', URIError],
]);

/** An error as its envelope holds it. */
interface StoredError {
  className: string;
  name: string;
  message: string;
  stack?: string;
  cause?: unknown;
  fields: Record<string, unknown>;
  /** The code of the Operon error class it was an instance of; absent for any other error. */
  operonCode?: string;
}

/** A step of a path: an index, a key, or a Map or Set entry (labelled only if an error needs it). */
type PathPart = string | number | symbol | { readonly entry: 'key' | 'value' | 'member'; readonly index: number; readonly key?: unknown };

function formatPath(root: string, parts: readonly PathPart[]): string {
  let out = root;
  for (const part of parts) {
    if (typeof part === 'number') out += `[${part}]`;
    else if (typeof part === 'symbol') out += `[${describe(part)}]`;
    else if (typeof part === 'string') out += /^[A-Za-z_$][\w$]*$/.test(part) ? `.${part}` : `[${JSON.stringify(part)}]`;
    else if (part.entry === 'member') out += `.values()[${part.index}]`;
    else if (part.entry === 'key') out += `.keys()[${part.index}]`;
    else out += `.get(${typeof part.key === 'string' || typeof part.key === 'number' ? JSON.stringify(part.key) : `<key ${part.index}>`})`;
  }
  return out;
}

function isError(value: object): value is Error {
  return value instanceof Error || Object.prototype.toString.call(value) === '[object Error]';
}

function define(target: object, key: string, value: unknown, enumerable = true): void {
  Object.defineProperty(target, key, { value, writable: true, enumerable, configurable: true });
}

function base64(view: ArrayBufferView | ArrayBuffer): string {
  return (ArrayBuffer.isView(view) ? Buffer.from(view.buffer, view.byteOffset, view.byteLength) : Buffer.from(view)).toString('base64');
}

function bytes(text: unknown): ArrayBuffer {
  const decoded = Buffer.from(String(text), 'base64');
  const buffer = new ArrayBuffer(decoded.byteLength);
  new Uint8Array(buffer).set(decoded);
  return buffer;
}

/** What a value that cannot be stored is, in words, and how to store it if it can be. */
function unstorable(value: unknown): string {
  if (typeof value === 'function') return `is a function${value.name ? ` (${value.name})` : ''}, which cannot be stored`;
  if (typeof value === 'symbol') return 'is a symbol, which cannot be stored';
  const ctor = (Object.getPrototypeOf(value) as { constructor?: unknown } | null)?.constructor;
  const name = typeof ctor === 'function' && ctor.name ? ctor.name : 'an unnamed class';
  const native = typeof ctor === 'function' && /\{\s*\[native code\]\s*\}$/.test(Function.prototype.toString.call(ctor));
  if (native) return `is a ${name}, which cannot be stored`;
  const base = builtinBase(value as object);
  if (base !== undefined && !SUBCLASSABLE.has(base)) return `is an instance of ${name}, a subclass of ${base}; a subclass of ${base} cannot be stored`;
  const kind = base === undefined ? ',' : `, a subclass of ${base},`;
  return `is an instance of ${name}${kind} which is not registered: call registerSerializableClass(${name}) to store its instances${base === undefined ? ', or pass its fields as a plain object' : ` with their class, or pass a plain ${base}`}`;
}

/** The built-in kinds an instance is stored as, by exact prototype: a subclass's instance is none of them. */
const KIND_OF_PROTOTYPE: ReadonlyMap<object, string> = new Map<object, string>([
  [Date.prototype, 'Date'],
  [RegExp.prototype, 'RegExp'],
  [Map.prototype, 'Map'],
  [Set.prototype, 'Set'],
  [Buffer.prototype, 'Buffer'],
  [ArrayBuffer.prototype, 'ArrayBuffer'],
  ...[...TYPED_ARRAYS].map(([name, ctor]) => [ctor.prototype as object, name] as [object, string]),
]);

/** Built-in kinds whose registered subclasses are stored with their class (a `subclass` tag). */
const SUBCLASSABLE: ReadonlyMap<string, abstract new (...args: never[]) => object> = new Map<string, abstract new (...args: never[]) => object>([
  ['Array', Array],
  ['Map', Map],
  ['Set', Set],
  ['Date', Date],
  ['RegExp', RegExp],
]);

/** The built-in kind a class instance extends (an Array, Map, Set, Date, RegExp or bytes), if any. */
function builtinBase(value: object): string | undefined {
  if (Array.isArray(value)) return 'Array';
  if (value instanceof Map) return 'Map';
  if (value instanceof Set) return 'Set';
  if (value instanceof Date) return 'Date';
  if (value instanceof RegExp) return 'RegExp';
  if (ArrayBuffer.isView(value)) return Buffer.isBuffer(value) ? 'Buffer' : 'a typed array';
  if (value instanceof ArrayBuffer) return 'ArrayBuffer';
  return undefined;
}

/** An array index key (`Object.keys` of an array lists them before its other keys). */
function isIndexKey(key: string): boolean {
  return /^(?:0|[1-9]\d*)$/.test(key) && Number(key) < 4294967295;
}

/**
 * Thrown through the walk when a part cannot be stored; each level it passes on the way out adds
 * its step, so the walk itself keeps no path (a path is only ever built for an error).
 */
class Unstorable {
  /** Innermost step first. */
  readonly steps: PathPart[] = [];
  constructor(
    /** What the part is, after its path: "is a function (f), which cannot be stored". */
    readonly reason: string,
    /** The error a read threw (a getter, a Proxy's trap), when that is why. */
    readonly threw?: unknown,
  ) {}
}

/** A JavaScript stack overflow: the value is nested too deeply to walk. */
function isStackOverflow(error: unknown): boolean {
  return error instanceof RangeError && /call stack/i.test(error.message);
}

/** `error` on its way out through `step`: an Unstorable gets the step, anything a read threw becomes one. */
function through(error: unknown, step: PathPart): unknown {
  if (isStackOverflow(error)) return error;
  const failure = error instanceof Unstorable ? error : new Unstorable('', error);
  failure.steps.push(step);
  return failure;
}

const UNDEFINED = Object.freeze({ [TYPE_KEY]: 'undefined' });
const propertyIsEnumerable = Object.prototype.propertyIsEnumerable;

/** Sets `key` of a plain object built here; `__proto__` is defined, so it stays a key. */
function put(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') define(target, key, value);
  else target[key] = value;
}

/**
 * One walk over a value that gives the tree the stored JSON is written from: the value's own
 * objects and arrays wherever they hold only what JSON holds (nothing is copied for them), and a
 * tag for each part JSON cannot hold, with copies of just the objects and arrays on the way to it.
 * JSON.stringify (native) then writes the text. `tagged` says whether any tag was needed, that is
 * whether the text goes in an envelope; without one the value's text is exactly its JSON.
 */
class Encoder {
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
      const fields = this.fields(value, false);
      // In an envelope an object with a `$type` key could pass for a tag: it is escaped. (As
      // plain JSON it is stored as it is: the caller writes the value itself if nothing was tagged.)
      return Object.hasOwn(value, TYPE_KEY) ? { $type: 'Object', value: fields } : fields;
    }
    if (proto === Array.prototype && Array.isArray(value)) {
      this.ids.set(value, this.ids.size);
      return this.items(value as unknown[], false);
    }
    const kind = KIND_OF_PROTOTYPE.get(proto as object);
    if (kind !== undefined) {
      this.ids.set(value, this.ids.size);
      this.tagged = true;
      return { $type: kind, value: this.builtinContent(kind, value) };
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
    if (base === undefined) return { $type: 'class', class: className, value: this.fields(value, true) };
    // A registered subclass of a built-in: the built-in's content, then the instance's own fields.
    const content = this.builtinContent(base, value);
    return { $type: 'subclass', class: className, base, value: content, fields: this.fields(value, true, base === 'Array') };
  }

  /** What a built-in kind's tag holds as its value. */
  private builtinContent(kind: string, value: object): unknown {
    switch (kind) {
      case 'Array':
        return this.items(value as unknown[], true);
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

  /** The array itself if every item is stored as it is; else a copy with the tags (`copy`: a copy anyway). */
  private items(array: unknown[], copy: boolean): unknown[] {
    const length = array.length;
    let out: unknown[] | undefined = copy ? new Array<unknown>(length) : undefined;
    let i = 0;
    try {
      for (; i < length; i++) {
        const item = array[i];
        // A hole reads as undefined; it is kept as a hole.
        let stored: unknown;
        if (item === undefined && !(i in array)) {
          this.tagged = true;
          stored = HOLE;
        } else {
          stored = this.encode(item);
        }
        if (out === undefined && stored !== item) {
          out = new Array<unknown>(length);
          for (let j = 0; j < i; j++) out[j] = array[j];
        }
        if (out !== undefined) out[i] = stored;
      }
    } catch (error) {
      throw through(error, i);
    }
    return out ?? array;
  }

  /**
   * The own enumerable string-keyed fields of `value`: the object itself if each is stored as it
   * is, else a plain copy with the tags (`copy`: a copy anyway; an array's index keys are skipped
   * with `skipIndexes`, its items hold them; `skip` names keys stored elsewhere).
   */
  private fields(value: object, copy: boolean, skipIndexes = false, skip?: readonly string[]): Record<string, unknown> {
    if (!this.lenient) this.refuseSymbolKeys(value);
    const keys = Object.keys(value);
    const record = value as Record<string, unknown>;
    let out: Record<string, unknown> | undefined = copy ? {} : undefined;
    let key = '';
    try {
      for (let i = 0; i < keys.length; i++) {
        key = keys[i]!;
        if (copy && ((skipIndexes && isIndexKey(key)) || (skip !== undefined && skip.includes(key)))) continue;
        const field = this.lenient ? this.readLeniently(value, key) : record[key];
        const stored = this.encode(field);
        if (out === undefined && stored !== field) {
          out = {};
          for (let j = 0; j < i; j++) put(out, keys[j]!, record[keys[j]!]);
        }
        if (out !== undefined) put(out, key, stored);
      }
    } catch (error) {
      throw through(error, key);
    }
    return out ?? record;
  }

  /** A symbol-keyed property is refused, as a symbol or a function is: JSON would drop it without a word. */
  private refuseSymbolKeys(value: object): void {
    const symbols = Object.getOwnPropertySymbols(value);
    for (let i = 0; i < symbols.length; i++) {
      const symbol = symbols[i]!;
      if (!propertyIsEnumerable.call(value, symbol)) continue;
      const failure = new Unstorable('is a symbol-keyed property, which cannot be stored (use a string key)');
      failure.steps.push(symbol);
      throw failure;
    }
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
    stored.fields = this.fields(error, true, false, causeHidden ? ERROR_OWN_WITH_CAUSE : ERROR_OWN);
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

/** Text for any value; never throws (a null-prototype object, a revoked proxy). */
export function describe(value: unknown): string {
  try {
    return typeof value === 'function' ? `function ${value.name}`.trim() : String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/** The entries of a stored Map or Set: an array, or the record is damaged (a string would iterate its letters). */
function listOf(value: unknown, type: string): unknown[] {
  if (!Array.isArray(value)) throw new OperonValueFormatError(`a stored ${type} holds ${describe(value)}, not a list of its entries`);
  return value;
}

/** True for the shared node of a sparse array's missing index. */
function isHole(node: object): boolean {
  return (node as Record<string, unknown>)[TYPE_KEY] === 'hole' && Object.hasOwn(node, TYPE_KEY);
}

/**
 * Turns an envelope's tree back into values, in place: the tree is fresh from JSON.parse, so its
 * plain objects and arrays become the values themselves and only tagged nodes are replaced.
 */
class Decoder {
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
        const time = value === null ? Number.NaN : new Date(String(value)).getTime();
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
    const registered = serializableClassNamed(stored.className);
    const builtin = BUILTIN_ERRORS.get(stored.className) ?? Error;
    // Reflect.construct runs only the language's Error constructor, with the registered class's
    // prototype: a real error (util.inspect, Error.isError), and none of the app's code runs.
    const error = this.keep(
      registered && registered.prototype instanceof Error ? (Reflect.construct(Error, [], registered) as Error) : new builtin(),
    );
    define(error, 'message', String(stored.message ?? ''), false);
    define(error, 'name', String(stored.name ?? 'Error'), false);
    if (typeof stored.stack === 'string') define(error, 'stack', stored.stack, false);
    else delete (error as { stack?: string }).stack;
    if (Object.hasOwn(stored, 'cause')) define(error, 'cause', this.decode(stored.cause), false);
    const fields = stored.fields ?? {};
    for (const key of Object.keys(fields)) define(error, key, this.decode(fields[key]));
    if (typeof stored.operonCode === 'string') brandOperonError(error, stored.operonCode);
    return error;
  }
}

/**
 * The stored text of `value`. `root` names the value in an error's path (`inputs`); `what` says
 * whose value it is (`the inputs of Shop.order`). Throws OperonValueNotSerializableError naming
 * the path of the first part that cannot be stored.
 */
export function encodeValue(value: unknown, root: string, what: string): string {
  const encoder = new Encoder(false);
  try {
    const tree = encoder.encode(value);
    // A plain object that has the envelope's key would read as an envelope: it goes in one.
    if (encoder.tagged || (typeof value === 'object' && value !== null && !Array.isArray(value) && Object.hasOwn(value, ENVELOPE_KEY))) {
      return JSON.stringify({ [ENVELOPE_KEY]: FORMAT, value: tree });
    }
    // Nothing tagged: the value is plain JSON and is stored as exactly its JSON text.
    return JSON.stringify(value);
  } catch (error) {
    if (isStackOverflow(error)) throw new OperonValueNotSerializableError(`${what} cannot be stored: ${root} is nested too deeply`, root);
    const failure = error instanceof Unstorable ? error : new Unstorable('', error);
    const path = formatPath(root, failure.steps.reverse());
    // A getter, or a Proxy's trap (a revoked Proxy): the part being read is the one that cannot be stored.
    const message = failure.reason !== '' ? `${what} cannot be stored: ${path} ${failure.reason}` : `${what} cannot be stored: reading ${path} threw: ${describe(failure.threw)}`;
    throw new OperonValueNotSerializableError(message, path);
  }
}

/** An error's stored text; never throws, whatever its fields hold (they are stored as far as they can be). */
export function encodeErrorValue(error: Error): string {
  try {
    return errorText(error);
  } catch {
    // A Proxy or a throwing ownKeys among its fields: then the error as its message alone.
    let message = '';
    try {
      message = describe(error.message);
    } catch {
      message = describe(error);
    }
    return errorText(new Error(message));
  }
}

function errorText(error: Error): string {
  return JSON.stringify({ [ENVELOPE_KEY]: FORMAT, value: new Encoder(true).encode(error) });
}

/** The envelope's tree of a parsed record, or undefined if the record is plain JSON (of any version). */
export function envelopeOf(parsed: unknown): { tree: unknown } | undefined {
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || !Object.hasOwn(parsed, ENVELOPE_KEY)) return undefined;
  const format = (parsed as Record<string, unknown>)[ENVELOPE_KEY];
  if (format !== FORMAT) throw new OperonValueFormatError(`a stored value is in format ${JSON.stringify(format)}; this version of Operon reads format ${FORMAT} and plain JSON`);
  return { tree: (parsed as Record<string, unknown>).value };
}

/** A value back from its stored text (`null`: undefined). */
export function decodeValue<T>(text: string | null): T {
  if (text === null) return undefined as T;
  const parsed: unknown = JSON.parse(text);
  const envelope = envelopeOf(parsed);
  return (envelope ? decodeTree(envelope.tree) : parsed) as T;
}

/** Decodes an envelope's tree (an error's record). A damaged tree is an OperonValueFormatError, never a bare TypeError. */
export function decodeTree(tree: unknown): unknown {
  try {
    return new Decoder().decode(tree);
  } catch (error) {
    if (error instanceof OperonError) throw error;
    throw new OperonValueFormatError(`a stored value is damaged or nested too deeply to read: ${describe(error)}`);
  }
}

/**
 * A stored value as readable JSON for display (the management API, the dashboard): plain JSON as
 * stored; a value of the envelope as its tagged tree (`{"$type":"Date","value":"2025-…"}`).
 * Nothing is revived, so it is safe on any record; undefined (SQL NULL) shows as null.
 */
export function storedValueForDisplay(text: string | null): unknown {
  if (text === null) return null;
  const parsed: unknown = JSON.parse(text);
  if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) && Object.hasOwn(parsed, ENVELOPE_KEY)) {
    return (parsed as Record<string, unknown>).value ?? null;
  }
  return parsed;
}
