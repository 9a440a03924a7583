/**
 * How inputs, outputs and errors are recorded: JSON text. An error keeps its name, message,
 * stack and own fields, so a replayed error looks like the original to the workflow. Whatever a
 * first run produced, callers get what a replay would give: the stored form read back.
 */
import { OperonError, OperonSerializationError, brandOperonError } from '@operon/sdk';

interface RecordedError {
  name: string;
  message: string;
  stack?: string;
  fields: Record<string, unknown>;
  /** The code of the Operon error class it was an instance of; absent for any other error. */
  operonCode?: string;
}

/** Records `value` as JSON; `undefined` is recorded as SQL NULL. */
export function serialize(value: unknown, what: string): string | null {
  if (value === undefined) return null;
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    throw new OperonSerializationError(`${what} cannot be recorded as JSON: ${(error as Error).message}`);
  }
  // A bare function or symbol has no JSON form at all.
  if (text === undefined) throw new OperonSerializationError(`${what} cannot be recorded as JSON: a ${typeof value} has no JSON form`);
  return text;
}

export function deserialize<T>(text: string | null): T {
  return (text === null ? undefined : JSON.parse(text)) as T;
}

/** Text for a thrown value of any kind; never throws (a null-prototype object, a revoked proxy). */
function describeThrown(value: unknown): string {
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

function safeValue(value: unknown): unknown {
  try {
    return JSON.parse(JSON.stringify(value ?? null) ?? 'null');
  } catch {
    return describeThrown(value);
  }
}

function ownField(error: object, key: string): unknown {
  try {
    return (error as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}

/** The record of a thrown value. Never throws, whatever was thrown. */
export function serializeError(error: unknown): string {
  if (typeof error !== 'object' || error === null) {
    return JSON.stringify({ name: 'Error', message: describeThrown(error), fields: { thrownValue: safeValue(error) } });
  }
  const fields: Record<string, unknown> = {};
  let keys: string[] = [];
  try {
    keys = Object.keys(error);
  } catch {
    keys = [];
  }
  for (const key of keys) {
    if (key === 'name' || key === 'message' || key === 'stack') continue;
    fields[key] = safeValue(ownField(error, key));
  }
  const name = ownField(error, 'name');
  const message = ownField(error, 'message');
  const stack = ownField(error, 'stack');
  const recorded: RecordedError = {
    name: typeof name === 'string' ? name : 'Error',
    message: typeof message === 'string' ? message : describeThrown(error),
    ...(typeof stack === 'string' ? { stack } : {}),
    fields,
  };
  // The brand travels only with a real Operon error: an upstream error whose `code` merely looks
  // like one (a 409 relayed by a communicator) stays a plain error.
  if (error instanceof OperonError) recorded.operonCode = error.code;
  return JSON.stringify(recorded);
}

export function deserializeError(text: string): Error {
  const recorded = JSON.parse(text) as RecordedError;
  const error = new Error(recorded.message);
  Object.defineProperty(error, 'name', { value: recorded.name, writable: true, enumerable: false, configurable: true });
  if (recorded.stack) error.stack = recorded.stack;
  Object.assign(error, recorded.fields);
  if (typeof recorded.operonCode === 'string') brandOperonError(error, recorded.operonCode);
  return error;
}

/** A thrown value as a caller will see it: its record read back. */
export function storedError(error: unknown): Error {
  return deserializeError(serializeError(error));
}
