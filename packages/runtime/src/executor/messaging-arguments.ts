/**
 * Checks of the arguments of send, recv, setEvent, getEvent and sleep. They run before anything
 * is stored, so a bad call fails clearly instead of writing a row nobody can read.
 */
import { OperonError } from '@operon/sdk';
import { checkIdentifier } from '../client/identifiers.js';
import { encodeValue } from './value-codec.js';

/** An argument of send, recv, setEvent, getEvent or sleep has the wrong type or value. */
export class OperonMessagingArgumentError extends OperonError {
  static override readonly CODE = 'OPERON_ERR_MESSAGING_INVALID_ARGUMENT';
  constructor(
    readonly operation: string,
    readonly argument: string,
    readonly expected: string,
    got: unknown,
  ) {
    super(`${operation}: ${argument} must be ${expected}, got ${describe(got)}`);
  }
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) return String(value);
  if (typeof value === 'bigint') return `${value}n`;
  return `a ${Array.isArray(value) ? 'array' : typeof value}`;
}

/** A workflow UUID (a destination, or the workflow whose event is read): the identifier rule. */
export function checkUUID(operation: string, argument: string, value: unknown): string {
  return checkIdentifier(`${operation}: ${argument}`, value);
}

/** A topic: the identifier rule, or undefined/null for the default topic (returned as null). */
export function checkTopic(operation: string, topic: unknown): string | null {
  if (topic === undefined || topic === null) return null;
  return checkIdentifier(`${operation}: topic`, topic);
}

/** An event key: the identifier rule. */
export function checkEventKey(operation: string, key: unknown): string {
  return checkIdentifier(`${operation}: key`, key);
}

/** An idempotency key: the identifier rule, or undefined/null for none. */
export function checkIdempotencyKey(key: unknown): string | undefined {
  if (key === undefined || key === null) return undefined;
  return checkIdentifier('send: idempotencyKey', key);
}

/** A duration in seconds (finite, not negative), returned in milliseconds. */
export function checkSeconds(operation: string, argument: string, seconds: unknown): number {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0) {
    throw new OperonMessagingArgumentError(operation, argument, 'a finite number of seconds, 0 or more', seconds);
  }
  return Math.round(seconds * 1000);
}

/**
 * A message or event value as stored text (`undefined` too: it comes back as sent); a value that
 * cannot be stored (a function, a symbol) is an OperonValueNotSerializableError naming its path.
 */
export function serializeValue(value: unknown, what: string, root: 'message' | 'value'): string {
  return encodeValue(value, root, what);
}
