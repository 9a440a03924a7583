/**
 * How inputs, outputs and errors are recorded: JSON text. An error keeps its name, message,
 * stack and own fields, so a replayed error looks like the original to the workflow.
 */
import { OperonSerializationError, brandOperonError } from '@operon/sdk';

interface RecordedError {
  name: string;
  message: string;
  stack?: string;
  fields: Record<string, unknown>;
}

/** Records `value` as JSON; `undefined` is recorded as SQL NULL. */
export function serialize(value: unknown, what: string): string | null {
  if (value === undefined) return null;
  try {
    return JSON.stringify(value);
  } catch (error) {
    throw new OperonSerializationError(`${what} cannot be recorded as JSON: ${(error as Error).message}`);
  }
}

export function deserialize<T>(text: string | null): T {
  return (text === null ? undefined : JSON.parse(text)) as T;
}

export function serializeError(error: unknown): string {
  if (!(error instanceof Error) && !(typeof error === 'object' && error !== null && 'message' in error)) {
    return JSON.stringify({ name: 'Error', message: String(error), fields: { thrownValue: safeValue(error) } });
  }
  const err = error as Error;
  const fields: Record<string, unknown> = {};
  for (const key of Object.keys(err)) {
    if (key === 'name' || key === 'message' || key === 'stack') continue;
    fields[key] = safeValue((err as unknown as Record<string, unknown>)[key]);
  }
  const recorded: RecordedError = { name: err.name, message: err.message, stack: err.stack, fields };
  return JSON.stringify(recorded);
}

function safeValue(value: unknown): unknown {
  try {
    return JSON.parse(JSON.stringify(value ?? null));
  } catch {
    return String(value);
  }
}

export function deserializeError(text: string): Error {
  const recorded = JSON.parse(text) as RecordedError;
  const error = new Error(recorded.message);
  Object.defineProperty(error, 'name', { value: recorded.name, writable: true, enumerable: false, configurable: true });
  if (recorded.stack) error.stack = recorded.stack;
  Object.assign(error, recorded.fields);
  const code = recorded.fields['code'];
  if (typeof code === 'string' && code.startsWith('OPERON_ERR_')) brandOperonError(error, code);
  return error;
}
