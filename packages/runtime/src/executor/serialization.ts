/**
 * How inputs, outputs, messages, events and errors are recorded: the value codec's text (plain
 * JSON where JSON holds the value, its envelope otherwise). An error keeps its class, name,
 * message, stack, cause and own fields. Whatever a first run produced, callers get what a replay
 * would give: the stored form read back.
 */
import { brandOperonError } from '@operon/sdk';
import { decodeEnvelope, decodeValue, describe, encodeErrorValue, encodeValue, envelopeOf } from './value-codec.js';

/** An error as records before the codec held it (still read). */
interface LegacyRecordedError {
  name: string;
  message: string;
  stack?: string;
  fields: Record<string, unknown>;
  operonCode?: string;
}

/**
 * Records `value`; `undefined` is recorded as SQL NULL. `root` names the value in the path of an
 * OperonValueNotSerializableError (`inputs[1].callback`).
 */
export function serialize(value: unknown, what: string, root = 'value'): string | null {
  if (value === undefined) return null;
  return encodeValue(value, root, what);
}

export function deserialize<T>(text: string | null): T {
  return decodeValue<T>(text);
}

function ownField(error: object, key: string): unknown {
  try {
    return (error as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}

/** A thrown value that is not an Error, as one: its name, message and fields as far as they go. */
function asError(thrown: unknown): Error {
  const name = typeof thrown === 'object' && thrown !== null ? ownField(thrown, 'name') : undefined;
  const message = typeof thrown === 'object' && thrown !== null ? ownField(thrown, 'message') : undefined;
  const stack = typeof thrown === 'object' && thrown !== null ? ownField(thrown, 'stack') : undefined;
  const error = new Error(typeof message === 'string' ? message : describe(thrown));
  Object.defineProperty(error, 'name', { value: typeof name === 'string' ? name : 'Error', writable: true, enumerable: false, configurable: true });
  if (typeof stack === 'string') error.stack = stack;
  else delete (error as { stack?: string }).stack;
  if (typeof thrown !== 'object' || thrown === null) {
    Object.defineProperty(error, 'thrownValue', { value: thrown, writable: true, enumerable: true, configurable: true });
    return error;
  }
  let keys: string[] = [];
  try {
    keys = Object.keys(thrown);
  } catch {
    keys = [];
  }
  for (const key of keys) {
    if (key === 'name' || key === 'message' || key === 'stack') continue;
    Object.defineProperty(error, key, { value: ownField(thrown, key), writable: true, enumerable: true, configurable: true });
  }
  return error;
}

function isErrorObject(value: unknown): value is Error {
  if (typeof value !== 'object' || value === null) return false;
  try {
    return value instanceof Error || Object.prototype.toString.call(value) === '[object Error]';
  } catch {
    return false;
  }
}

/** The record of a thrown value. Never throws, whatever was thrown. */
export function serializeError(error: unknown): string {
  return encodeErrorValue(isErrorObject(error) ? error : asError(error));
}

export function deserializeError(text: string): Error {
  const parsed: unknown = JSON.parse(text);
  const envelope = envelopeOf(parsed);
  if (envelope) {
    const decoded = decodeEnvelope(envelope);
    return isErrorObject(decoded) ? decoded : asError(decoded);
  }
  // A record written before the codec: name, message, stack and JSON fields.
  const recorded = parsed as LegacyRecordedError;
  const error = new Error(recorded.message);
  Object.defineProperty(error, 'name', { value: recorded.name, writable: true, enumerable: false, configurable: true });
  if (recorded.stack) error.stack = recorded.stack;
  for (const [key, value] of Object.entries(recorded.fields ?? {})) {
    Object.defineProperty(error, key, { value, writable: true, enumerable: true, configurable: true });
  }
  if (typeof recorded.operonCode === 'string') brandOperonError(error, recorded.operonCode);
  return error;
}

/** A thrown value as a caller will see it: its record read back. */
export function storedError(error: unknown): Error {
  return deserializeError(serializeError(error));
}
