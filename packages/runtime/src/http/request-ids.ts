/**
 * Ids that arrive in request headers: `x-request-id` (honoured when sane, else replaced) and
 * `operon-workflowuuid` (rejected when not sane: it becomes a workflow's primary key).
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
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
  return checkClientUUID(given, `the ${WORKFLOW_UUID_HEADER} header`);
}
