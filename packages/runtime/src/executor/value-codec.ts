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
type PathPart = string | number | { readonly entry: 'key' | 'value' | 'member'; readonly index: number; readonly key?: unknown };

function formatPath(root: string, parts: readonly PathPart[]): string {
  let out = root;
  for (const part of parts) {
    if (typeof part === 'number') out += `[${part}]`;
    else if (typeof part === 'string') out += /^[A-Za-z_$][\w$]*$/.test(part) ? `.${part}` : `[${JSON.stringify(part)}]`;
    else if (part.entry === 'member') out += `.values()[${part.index}]`;
    else if (part.entry === 'key') out += `.keys()[${part.index}]`;
    else out += `.get(${typeof part.key === 'string' || typeof part.key === 'number' ? JSON.stringify(part.key) : `<key ${part.index}>`})`;
  }
  return out;
}

function isPlainPrototype(proto: unknown): boolean {
  return proto === Object.prototype || proto === null;
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

/**
 * True when `value` is stored as its plain JSON: JSON gives back exactly this value. Stops at the
 * first value that is not; may throw (a getter), which the caller takes as "not plain".
 */
function isPlainJson(value: unknown, seen: Set<object>): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value) && !Object.is(value, -0);
    case 'object':
      break;
    default:
      return false;
  }
  if (value === null) return true;
  // A second sight is a shared or circular reference: JSON would copy it or fail.
  if (seen.has(value)) return false;
  seen.add(value);
  if (Array.isArray(value)) {
    if (Object.getPrototypeOf(value) !== Array.prototype) return false;
    // A hole reads as undefined, which is not plain.
    for (let i = 0; i < value.length; i++) if (!isPlainJson(value[i], seen)) return false;
    return true;
  }
  if (!isPlainPrototype(Object.getPrototypeOf(value))) return false;
  const record = value as Record<string, unknown>;
  // JSON.stringify would call a toJSON of a plain object; the codec stores fields, not that.
  if ('toJSON' in record) return false;
  for (const key of Object.keys(record)) if (!isPlainJson(record[key], seen)) return false;
  return true;
}

/** What a value that cannot be stored is, in words, and how to store it if it can be. */
function unstorable(value: unknown): string {
  if (typeof value === 'function') return `is a function${value.name ? ` (${value.name})` : ''}, which cannot be stored`;
  if (typeof value === 'symbol') return 'is a symbol, which cannot be stored';
  const ctor = (Object.getPrototypeOf(value) as { constructor?: unknown } | null)?.constructor;
  const name = typeof ctor === 'function' && ctor.name ? ctor.name : 'an unnamed class';
  const native = typeof ctor === 'function' && /\{\s*\[native code\]\s*\}$/.test(Function.prototype.toString.call(ctor));
  return native
    ? `is a ${name}, which cannot be stored`
    : `is an instance of ${name}, which is not registered: call registerSerializableClass(${name}) to store its instances, or pass its fields as a plain object`;
}

type Kind = 'array' | 'plain' | 'Date' | 'RegExp' | 'Map' | 'Set' | 'Error' | 'class' | 'Buffer' | 'ArrayBuffer' | string;

/** How an object is stored, or undefined if it cannot be. */
function kindOf(value: object): Kind | undefined {
  if (Array.isArray(value)) return 'array';
  const proto = Object.getPrototypeOf(value) as { constructor?: unknown } | null;
  if (isPlainPrototype(proto)) return 'plain';
  if (value instanceof Date) return 'Date';
  if (value instanceof RegExp) return 'RegExp';
  if (value instanceof Map) return 'Map';
  if (value instanceof Set) return 'Set';
  if (Buffer.isBuffer(value)) return 'Buffer';
  if (ArrayBuffer.isView(value)) {
    const name = value.constructor.name;
    return TYPED_ARRAYS.get(name) === value.constructor ? name : undefined;
  }
  if (value instanceof ArrayBuffer) return 'ArrayBuffer';
  if (isError(value)) return 'Error';
  // Only the registered class itself: a subclass of it would come back as its parent.
  const name = serializableClassName(proto?.constructor);
  if (name !== undefined && serializableClassNamed(name)?.prototype === proto) return 'class';
  return undefined;
}

/** Turns a value into the JSON-safe tree of an envelope. */
class Encoder {
  private readonly ids = new Map<object, number>();
  private readonly path: PathPart[] = [];

  /** `lenient`: a part that cannot be stored becomes a string saying what it was (for errors, which must always be recordable). */
  constructor(
    private readonly root: string,
    private readonly what: string,
    private readonly lenient: boolean,
  ) {}

  encode(value: unknown): unknown {
    switch (typeof value) {
      case 'string':
      case 'boolean':
        return value;
      case 'number':
        if (Number.isFinite(value) && !Object.is(value, -0)) return value;
        return { $type: 'number', value: Object.is(value, -0) ? '-0' : String(value) };
      case 'bigint':
        return { $type: 'bigint', value: value.toString() };
      case 'undefined':
        return { $type: 'undefined' };
      case 'object':
        return value === null ? null : this.encodeObject(value);
      default:
        return this.fail(value);
    }
  }

  private encodeObject(value: object): unknown {
    const id = this.ids.get(value);
    if (id !== undefined) return { $type: 'ref', value: id };
    const kind = kindOf(value);
    // Numbered only once it is known to be stored, in the order a decoder meets it.
    if (kind === undefined) return this.fail(value);
    this.ids.set(value, this.ids.size);
    switch (kind) {
      case 'array': {
        const array = value as unknown[];
        const out = new Array<unknown>(array.length);
        // The path is pushed and popped around each part without try/finally: after a throw the
        // encoder is dropped, and the path as it stood is what the error names.
        for (let i = 0; i < array.length; i++) {
          this.path.push(i);
          out[i] = i in array ? this.encode(array[i]) : HOLE;
          this.path.pop();
        }
        return out;
      }
      case 'plain': {
        const fields = this.fields(value);
        return Object.hasOwn(fields, TYPE_KEY) ? { $type: 'Object', value: fields } : fields;
      }
      case 'Date': {
        const time = (value as Date).getTime();
        return { $type: 'Date', value: Number.isNaN(time) ? null : (value as Date).toISOString() };
      }
      case 'RegExp':
        return { $type: 'RegExp', value: { source: (value as RegExp).source, flags: (value as RegExp).flags } };
      case 'Map': {
        const entries: unknown[] = [];
        let i = 0;
        for (const [k, v] of value as Map<unknown, unknown>) {
          this.path.push({ entry: 'key', index: i });
          const key = this.encode(k);
          this.path[this.path.length - 1] = { entry: 'value', index: i, key: k };
          entries.push([key, this.encode(v)]);
          this.path.pop();
          i++;
        }
        return { $type: 'Map', value: entries };
      }
      case 'Set': {
        const members: unknown[] = [];
        let i = 0;
        for (const member of value as Set<unknown>) {
          this.path.push({ entry: 'member', index: i++ });
          members.push(this.encode(member));
          this.path.pop();
        }
        return { $type: 'Set', value: members };
      }
      case 'Error':
        return { $type: 'Error', value: this.encodeError(value as Error) };
      case 'class':
        return { $type: 'class', class: serializableClassName((Object.getPrototypeOf(value) as { constructor?: unknown }).constructor), value: this.fields(value) };
      default:
        // Buffer, ArrayBuffer and the typed arrays: their bytes.
        return { $type: kind, value: base64(value as ArrayBufferView) };
    }
  }

  private encodeError(error: Error): StoredError {
    const ctor = (Object.getPrototypeOf(error) as { constructor?: unknown } | null)?.constructor;
    const registered = serializableClassName(ctor);
    const ctorName = typeof ctor === 'function' ? ctor.name : '';
    const name = this.read(error, 'name');
    const message = this.read(error, 'message');
    const stack = this.read(error, 'stack');
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
      this.path.push('cause');
      stored.cause = this.encode(this.read(error, 'cause'));
      this.path.pop();
    }
    stored.fields = this.fields(error, causeHidden ? ['name', 'message', 'stack', 'cause'] : ['name', 'message', 'stack']);
    // The brand travels only with a real Operon error: an upstream error whose `code` merely looks
    // like one (a 409 relayed by a communicator) stays a plain error.
    if (error instanceof OperonError) stored.operonCode = error.code;
    return stored;
  }

  /** The own enumerable string-keyed fields of `value`, encoded. */
  private fields(value: object, skip: readonly string[] = []): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value)) {
      if (skip.includes(key)) continue;
      this.path.push(key);
      const encoded = this.encode(this.read(value, key));
      this.path.pop();
      if (key === '__proto__') define(out, key, encoded);
      else out[key] = encoded;
    }
    return out;
  }

  private read(value: object, key: string): unknown {
    try {
      return (value as Record<string, unknown>)[key];
    } catch (error) {
      if (this.lenient) return `[reading it threw: ${describe(error)}]`;
      const path = formatPath(this.root, this.path);
      throw new OperonValueNotSerializableError(`${this.what}: reading ${path} threw: ${describe(error)}`, path);
    }
  }

  /** Where the walk stands: after a throw, the part that threw. */
  where(): string {
    return formatPath(this.root, this.path);
  }

  private fail(value: unknown): unknown {
    if (this.lenient) return `[${describe(value)}]`;
    const path = formatPath(this.root, this.path);
    throw new OperonValueNotSerializableError(`${this.what} cannot be stored: ${path} ${unstorable(value)}`, path);
  }
}

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

/** Turns an envelope's tree back into values. */
class Decoder {
  private readonly objects: unknown[] = [];

  decode(node: unknown): unknown {
    if (typeof node !== 'object' || node === null) return node;
    if (Array.isArray(node)) {
      const out = new Array<unknown>(node.length);
      this.objects.push(out);
      for (let i = 0; i < node.length; i++) {
        const item: unknown = node[i];
        // A hole stays a hole: `new Array(n)` is all holes until an index is set.
        if (typeof item === 'object' && item !== null && (item as Record<string, unknown>)[TYPE_KEY] === 'hole') continue;
        out[i] = this.decode(item);
      }
      return out;
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
        return this.plain(value as Record<string, unknown>);
      case 'Date':
        return this.keep(new Date(value === null ? Number.NaN : String(value)));
      case 'RegExp': {
        const { source, flags } = value as { source: string; flags: string };
        return this.keep(new RegExp(source, flags));
      }
      case 'Map': {
        const map = this.keep(new Map());
        for (const [k, v] of listOf(value, 'Map') as [unknown, unknown][]) {
          const key = this.decode(k);
          map.set(key, this.decode(v));
        }
        return map;
      }
      case 'Set': {
        const set = this.keep(new Set());
        for (const member of listOf(value, 'Set')) set.add(this.decode(member));
        return set;
      }
      case 'Buffer':
        return this.keep(Buffer.from(String(value), 'base64'));
      case 'ArrayBuffer':
        return this.keep(bytes(value));
      case 'Error':
        return this.error(value as StoredError);
      case 'class':
        return this.instance(String(tagged.class), value as Record<string, unknown>);
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

  private plain(fields: Record<string, unknown>): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    this.objects.push(out);
    for (const key of Object.keys(fields)) {
      const value = this.decode(fields[key]);
      if (key === '__proto__') define(out, key, value);
      else out[key] = value;
    }
    return out;
  }

  private instance(className: string, fields: Record<string, unknown>): object {
    const cls = serializableClassNamed(className);
    if (cls === undefined) {
      throw new OperonValueFormatError(`a stored value is an instance of class "${className}", which is not registered here: call registerSerializableClass before reading it`);
    }
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
  let plain: boolean;
  try {
    plain = isPlainJson(value, new Set());
  } catch {
    plain = false;
  }
  // A plain object that has the envelope's key would read as an envelope: it goes in one.
  if (plain && !(typeof value === 'object' && value !== null && !Array.isArray(value) && Object.hasOwn(value, ENVELOPE_KEY))) {
    return JSON.stringify(value);
  }
  let tree: unknown;
  const encoder = new Encoder(root, what, false);
  try {
    tree = encoder.encode(value);
  } catch (error) {
    if (error instanceof OperonValueNotSerializableError) throw error;
    if (error instanceof RangeError) throw new OperonValueNotSerializableError(`${what} cannot be stored: ${root} is nested too deeply`, root);
    // A Proxy's trap, or a revoked Proxy: the part being read is the one that cannot be stored.
    const path = encoder.where();
    throw new OperonValueNotSerializableError(`${what} cannot be stored: reading ${path} threw: ${describe(error)}`, path);
  }
  return JSON.stringify({ [ENVELOPE_KEY]: FORMAT, value: tree });
}

/** An error's stored text; never throws, whatever its fields hold (they are stored as far as they can be). */
export function encodeErrorValue(error: Error): string {
  try {
    return JSON.stringify({ [ENVELOPE_KEY]: FORMAT, value: new Encoder('error', 'an error', true).encode(error) });
  } catch {
    const fallback = new Error(describe(error.message));
    return JSON.stringify({ [ENVELOPE_KEY]: FORMAT, value: new Encoder('error', 'an error', true).encode(fallback) });
  }
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
