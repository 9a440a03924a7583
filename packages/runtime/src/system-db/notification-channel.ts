/**
 * The Postgres channel that wakes waiting `recv`s and `getEvent`s. A send or setEvent calls
 * pg_notify in the same statement as its write, so the notification is delivered exactly when the
 * write commits. The payload names what changed as a JSON array, and the process turns it into the
 * same wait key its waiters registered under.
 */
import type pg from 'pg';

export const NOTIFICATION_CHANNEL = 'operon_notifications';

/**
 * Postgres refuses a payload of 8000 bytes or more (and would fail the whole statement), so a
 * longer one is not sent: the slow poll then wakes its waiter instead.
 */
const MAX_PAYLOAD_BYTES = 7999;

/**
 * The tail of a statement that notifies for every row `source` returned; `payload` is a SQL
 * expression over that row's columns.
 */
export function notifyRows(source: string, payload: string): string {
  return `SELECT pg_notify('${NOTIFICATION_CHANNEL}', payload)
    FROM (SELECT (${payload})::text AS payload FROM ${source}) AS changed
    WHERE octet_length(payload) <= ${MAX_PAYLOAD_BYTES}`;
}

/** The payload expression of a message to `destination_uuid` on `topic` (NULL: the default topic). */
export const MESSAGE_PAYLOAD = "json_build_array('m', destination_uuid, topic)";
/** The payload expression of event `key` of `workflow_uuid`. */
export const EVENT_PAYLOAD = "json_build_array('e', workflow_uuid, key)";

/** What waiters of messages to `destinationUUID` on `topic` (null: the default topic) wait under. */
export function messageWaitKey(destinationUUID: string, topic: string | null): string {
  return JSON.stringify(['m', destinationUUID, topic]);
}

/** What waiters of event `key` of `workflowUUID` wait under. */
export function eventWaitKey(workflowUUID: string, key: string): string {
  return JSON.stringify(['e', workflowUUID, key]);
}

export type WaitTarget =
  | { readonly kind: 'message'; readonly destinationUUID: string; readonly topic: string | null }
  | { readonly kind: 'event'; readonly workflowUUID: string; readonly key: string };

/** What a wait key (from messageWaitKey or eventWaitKey) names. */
export function waitTargetOf(key: string): WaitTarget {
  const [kind, uuid, name] = JSON.parse(key) as ['m' | 'e', string, string | null];
  return kind === 'm' ? { kind: 'message', destinationUUID: uuid, topic: name } : { kind: 'event', workflowUUID: uuid, key: name as string };
}

/** The wait key a notification's payload names, or undefined if it is not one of ours. */
export function waitKeyOf(payload: string | undefined): string | undefined {
  if (!payload) return undefined;
  try {
    // Postgres spaces its JSON differently from JSON.stringify: re-serialise to the canonical key.
    const parsed: unknown = JSON.parse(payload);
    if (!Array.isArray(parsed) || parsed.length !== 3) return undefined;
    const [kind, uuid, name] = parsed as unknown[];
    if (typeof uuid !== 'string') return undefined;
    if (kind === 'm' && (name === null || typeof name === 'string')) return messageWaitKey(uuid, name);
    if (kind === 'e' && typeof name === 'string') return eventWaitKey(uuid, name);
    return undefined;
  } catch {
    return undefined;
  }
}

/** Subscribes the listener connection to the channel. */
export async function listenForNotifications(client: pg.ClientBase): Promise<void> {
  await client.query(`LISTEN ${NOTIFICATION_CHANNEL}`);
}
