/**
 * The one rule for every identifier Operon stores or looks up: workflow UUIDs, message
 * destinations, topics, event keys and idempotency keys are 1-200 printable characters without
 * whitespace, from whichever entry point they come (HTTP header, handler code, workflow code,
 * testing runtime).
 *
 * UUIDs the runtime derives (a child's, a request's later workflows) contain `~`, which no UUID a
 * client chooses may contain: so no client can start, pre-empt or be handed a derived workflow by
 * guessing its UUID.
 */
import { createHash } from 'node:crypto';
import { OperonInvalidIdentifierError } from '@operon/sdk';

export const MAX_IDENTIFIER_LENGTH = 200;
/** The character that marks a UUID as derived by the runtime. */
export const DERIVED_MARK = '~';

/**
 * Printable and not whitespace: no control characters (C0, DEL, C1), no Unicode space or
 * separator, no invisible format character (a zero-width space, a soft hyphen, a BOM: look-alikes
 * of other ids), and no lone surrogate (the database would store each as U+FFFD, so two distinct
 * ids would become one).
 */
const VALID = /^[^\p{Cc}\p{Cf}\p{Cs}\p{Z}\s]+$/u;

function describe(value: unknown): string {
  if (typeof value !== 'string') return value === null ? 'null' : `a ${typeof value}`;
  return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
}

/** Checks `value` against the identifier rule; `what` names it in the error ("workflow UUID", "topic"). */
export function checkIdentifier(what: string, value: unknown): string {
  if (typeof value !== 'string') throw new OperonInvalidIdentifierError(what, `must be a string, got ${describe(value)}`);
  if (value.length === 0) throw new OperonInvalidIdentifierError(what, 'must not be empty');
  if (value.length > MAX_IDENTIFIER_LENGTH) {
    throw new OperonInvalidIdentifierError(what, `must be at most ${MAX_IDENTIFIER_LENGTH} characters, got ${value.length}`);
  }
  if (!VALID.test(value)) {
    throw new OperonInvalidIdentifierError(what, `must be printable characters without whitespace, got ${describe(value)}`);
  }
  return value;
}

/** A UUID chosen by a client (header, handler code, testing runtime): the rule, and not a derived one. */
export function checkClientUUID(value: unknown, what = 'workflow UUID'): string {
  const uuid = checkIdentifier(what, value);
  if (uuid.includes(DERIVED_MARK)) {
    throw new OperonInvalidIdentifierError(what, `must not contain "${DERIVED_MARK}", which marks the UUIDs Operon derives, got ${describe(uuid)}`);
  }
  return uuid;
}

/**
 * The UUID derived from `base` for the `n`th thing of a `tag` ('c' a child at operation n, 'r' a
 * request's nth later workflow). Past the length limit, the base is replaced by its hash, which
 * keeps the derived UUID unique and still marked.
 */
export function derivedUUID(base: string, tag: 'c' | 'r', n: number): string {
  const suffix = `${DERIVED_MARK}${tag}${n}`;
  const uuid = base + suffix;
  if (uuid.length <= MAX_IDENTIFIER_LENGTH) return uuid;
  return createHash('sha256').update(base).digest('hex') + DERIVED_MARK + suffix;
}

/**
 * The UUID of a schedule's run for one tick: the same on every executor, so that over all of
 * them exactly one insert of it wins. Readable (`Reports.daily~s2026-03-08T07:00:00.000Z`);
 * past the length limit, the name is replaced by its hash.
 */
export function scheduledUUID(scheduleName: string, tick: number): string {
  const suffix = `${DERIVED_MARK}s${new Date(tick).toISOString()}`;
  const uuid = scheduleName + suffix;
  if (uuid.length <= MAX_IDENTIFIER_LENGTH) return uuid;
  return createHash('sha256').update(scheduleName).digest('hex') + suffix;
}
