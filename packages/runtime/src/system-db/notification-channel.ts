/**
 * The Postgres channel that wakes waiting `recv`s and `getEvent`s in other processes. After a send
 * or setEvent commits, its wait key (a JSON array naming what changed) is sent as the payload
 * (executor/notification-sender.ts), and a listening process turns it back into the same key.
 */
import type pg from 'pg';

export const NOTIFICATION_CHANNEL = 'operon_notifications';

/**
 * Postgres refuses a payload of 8000 bytes or more (and would fail the whole statement), so a
 * longer one is not sent: the slow poll then wakes its waiter instead.
 */
const MAX_PAYLOAD_BYTES = 7999;

/** Notifies every payload of the text array $1 (a longer payload is skipped: the poll covers it). */
export function notifyStatement(): string {
  return `SELECT pg_notify('${NOTIFICATION_CHANNEL}', payload) FROM unnest($1::text[]) AS payload
    WHERE octet_length(payload) <= ${MAX_PAYLOAD_BYTES}`;
}

/** What waiters of messages to `destinationUUID` on `topic` (null: the default topic) wait under. */
export function messageWaitKey(destinationUUID: string, topic: string | null): string {
  return JSON.stringify(['m', destinationUUID, topic]);
}

/** The payload that tells every process a workflow was cancelled: `["c", uuid, null]` (sent by the cancel's own statement). */
export function cancelledWorkflowOf(payload: string | undefined): string | undefined {
  if (!payload?.startsWith('["c"')) return undefined;
  try {
    const parsed: unknown = JSON.parse(payload);
    return Array.isArray(parsed) && parsed[0] === 'c' && typeof parsed[1] === 'string' ? parsed[1] : undefined;
  } catch {
    return undefined;
  }
}

/** What waiters of event `key` of `workflowUUID` wait under. */
export function eventWaitKey(workflowUUID: string, key: string): string {
  return JSON.stringify(['e', workflowUUID, key]);
}

/** What an enqueue on queue `name` notifies: executors with room take work on hearing it. */
export function queueWaitKey(name: string): string {
  return JSON.stringify(['q', name, null]);
}

/** The queue a notification's payload names, or undefined if it names none. */
export function queueOfPayload(payload: string | undefined): string | undefined {
  if (!payload || !payload.startsWith('["q"')) return undefined;
  try {
    const parsed: unknown = JSON.parse(payload);
    return Array.isArray(parsed) && parsed[0] === 'q' && typeof parsed[1] === 'string' ? parsed[1] : undefined;
  } catch {
    return undefined;
  }
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
