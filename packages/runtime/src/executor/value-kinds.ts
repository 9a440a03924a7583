/**
 * What the stored-value formats share: the built-in kinds a value can be stored as, how a part that
 * cannot be stored is described and where it sits (its path, built only when something fails), and
 * small helpers for reading and writing bytes and keys safely.
 */
import { types } from 'node:util';
import { OperonValueFormatError, serializableClassNamed } from '@operon/sdk';

export const TYPED_ARRAYS: ReadonlyMap<string, new (buffer: ArrayBuffer) => ArrayBufferView> = new Map<string, new (buffer: ArrayBuffer) => ArrayBufferView>([
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
export const BUILTIN_ERRORS: ReadonlyMap<string, ErrorConstructor> = new Map<string, ErrorConstructor>([
  ['Error', Error],
  ['TypeError', TypeError],
  ['RangeError', RangeError],
  ['SyntaxError', SyntaxError],
  ['ReferenceError', ReferenceError],
  ['EvalError', EvalError],
  ['URIError', URIError],
]);

/** An error as its envelope holds it. */
export interface StoredError {
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
export type PathPart = string | number | symbol | { readonly entry: 'key' | 'value' | 'member'; readonly index: number; readonly key?: unknown };

export function formatPath(root: string, parts: readonly PathPart[]): string {
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

export function isError(value: object): value is Error {
  return value instanceof Error || Object.prototype.toString.call(value) === '[object Error]';
}

export function define(target: object, key: string, value: unknown, enumerable = true): void {
  Object.defineProperty(target, key, { value, writable: true, enumerable, configurable: true });
}

export function base64(view: ArrayBufferView | ArrayBuffer): string {
  return (ArrayBuffer.isView(view) ? Buffer.from(view.buffer, view.byteOffset, view.byteLength) : Buffer.from(view)).toString('base64');
}

export function bytes(text: unknown): ArrayBuffer {
  const decoded = Buffer.from(String(text), 'base64');
  const buffer = new ArrayBuffer(decoded.byteLength);
  new Uint8Array(buffer).set(decoded);
  return buffer;
}

/** What a value that cannot be stored is, in words, and how to store it if it can be. */
export function unstorable(value: unknown): string {
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
export const KIND_OF_PROTOTYPE: ReadonlyMap<object, string> = new Map<object, string>([
  [Date.prototype, 'Date'],
  [RegExp.prototype, 'RegExp'],
  [Map.prototype, 'Map'],
  [Set.prototype, 'Set'],
  [Buffer.prototype, 'Buffer'],
  [ArrayBuffer.prototype, 'ArrayBuffer'],
  ...[...TYPED_ARRAYS].map(([name, ctor]) => [ctor.prototype as object, name] as [object, string]),
]);

/** Built-in kinds whose registered subclasses are stored with their class (a `subclass` tag). */
export const SUBCLASSABLE: ReadonlyMap<string, abstract new (...args: never[]) => object> = new Map<string, abstract new (...args: never[]) => object>([
  ['Array', Array],
  ['Map', Map],
  ['Set', Set],
  ['Date', Date],
  ['RegExp', RegExp],
]);

/** The built-in kind a class instance extends (an Array, Map, Set, Date, RegExp or bytes), if any. */
export function builtinBase(value: object): string | undefined {
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
export function isIndexKey(key: string): boolean {
  return /^(?:0|[1-9]\d*)$/.test(key) && Number(key) < 4294967295;
}

/**
 * Thrown through the walk when a part cannot be stored; each level it passes on the way out adds
 * its step, so the walk itself keeps no path (a path is only ever built for an error).
 */
export class Unstorable {
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
export function isStackOverflow(error: unknown): boolean {
  return error instanceof RangeError && /call stack/i.test(error.message);
}

/** `error` on its way out through `step`: an Unstorable gets the step, anything a read threw becomes one. */
export function through(error: unknown, step: PathPart): unknown {
  if (isStackOverflow(error)) return error;
  const failure = error instanceof Unstorable ? error : new Unstorable('', error);
  failure.steps.push(step);
  return failure;
}


/** Sets `key` of a plain object built here; `__proto__` is defined, so it stays a key. */
export function put(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') define(target, key, value);
  else target[key] = value;
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
export function listOf(value: unknown, type: string): unknown[] {
  if (!Array.isArray(value)) throw new OperonValueFormatError(`a stored ${type} holds ${describe(value)}, not a list of its entries`);
  return value;
}


/**
 * Why a Proxy around a built-in kind cannot be stored: a Map's entries, a Set's members, a Date's
 * time and bytes sit in internal slots the Proxy does not forward, so they cannot be read through it.
 */
export function proxiedKind(value: object, kind: string): Unstorable | undefined {
  if (!types.isProxy(value)) return undefined;
  return new Unstorable(`is a Proxy wrapping a ${kind}, which cannot be stored: a ${kind}'s contents cannot be read through a Proxy; pass the ${kind} itself`);
}

const propertyIsEnumerable = Object.prototype.propertyIsEnumerable;

/** A symbol-keyed property is refused, as a symbol or a function is: JSON would drop it without a word. */
export function refuseSymbolKeys(value: object): void {
  const symbols = Object.getOwnPropertySymbols(value);
  for (let i = 0; i < symbols.length; i++) {
    const symbol = symbols[i]!;
    if (!propertyIsEnumerable.call(value, symbol)) continue;
    const failure = new Unstorable('is a symbol-keyed property, which cannot be stored (use a string key)');
    failure.steps.push(symbol);
    throw failure;
  }
}

/**
 * A new error of a stored error's class with its message, name and stack (the caller adds its
 * cause and fields). Reflect.construct runs only the language's Error constructor, with the
 * registered class's prototype: a real error (util.inspect, Error.isError), and none of the app's code runs.
 */
export function errorOf(stored: StoredError): Error {
  const registered = serializableClassNamed(String(stored.className));
  const builtin = BUILTIN_ERRORS.get(String(stored.className)) ?? Error;
  const error = registered && registered.prototype instanceof Error ? (Reflect.construct(Error, [], registered) as Error) : new builtin();
  define(error, 'message', String(stored.message ?? ''), false);
  define(error, 'name', String(stored.name ?? 'Error'), false);
  if (typeof stored.stack === 'string') define(error, 'stack', stored.stack, false);
  else delete (error as { stack?: string }).stack;
  return error;
}
