/**
 * Ids that arrive in request headers: `x-request-id` (honoured when sane, else replaced) and
 * `operon-workflowuuid` (rejected when not sane: it becomes a workflow's primary key).
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { OperonInvalidIdentifierError } from '@operon/sdk';
import { checkClientUUID } from '../client/identifiers.js';

export const REQUEST_ID_HEADER = 'x-request-id';
export const WORKFLOW_UUID_HEADER = 'operon-workflowuuid';

/** 1 to 200 visible ASCII characters: safe in a header, a log line and a primary key. */
const SANE_ID = /^[\x21-\x7e]{1,200}$/;

export function isSaneId(value: unknown): boolean {
  return typeof value === 'string' && SANE_ID.test(value);
}

/** The client's `x-request-id` when it is sane, so logs correlate across services; else a new UUID. */
export function requestIdOf(request: IncomingMessage): string {
  const given = request.headers[REQUEST_ID_HEADER];
  return typeof given === 'string' && isSaneId(given) ? given : randomUUID();
}

/** The workflow UUID the client chose, undefined if it chose none; throws (400) if it breaks the identifier rule. */
export function workflowUUIDOf(headers: Readonly<Record<string, string | string[] | undefined>>): string | undefined {
  const given = headers[WORKFLOW_UUID_HEADER];
  if (given === undefined) return undefined;
  const what = `the ${WORKFLOW_UUID_HEADER} header`;
  const uuid = checkClientUUID(given, what);
  // Header bytes outside ASCII reach Node as Latin-1: the UUID would not be the one the client
  // meant, and it is sent back in a response header. So the header form is visible ASCII only.
  if (!SANE_ID.test(uuid)) throw new OperonInvalidIdentifierError(what, 'must be visible ASCII characters (a header carries bytes, not text)');
  return uuid;
}
