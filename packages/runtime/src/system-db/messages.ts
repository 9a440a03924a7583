/**
 * Messages between workflows (operon.notifications). Every write is one statement that also
 * records what makes it exactly-once and notifies waiting receivers:
 *  - a send from a workflow inserts its operation record and the message together; a re-run finds
 *    the record taken (ON CONFLICT DO NOTHING) and inserts no message;
 *  - a send with an idempotency key claims the key (per destination) and inserts the message together;
 *  - a recv deletes the oldest message and records it as its output together, so a crash leaves
 *    either the message in the table or the record, never both or neither.
 */
import type pg from 'pg';
import type { OperationRecord } from './operation-outputs.js';
import { recordDeadlineCte, recordOrExisting } from './operation-deadlines.js';
import { messageWaitKey } from './notification-channel.js';
import { OWNED_STATUS, noteStatus, ownedCheck, ownedCte } from './ownership.js';

export interface OutgoingMessage {
  readonly destinationUUID: string;
  /** null: the default topic. */
  readonly topic: string | null;
  /** JSON text. */
  readonly message: string;
}

export interface OperationSite {
  readonly workflowUUID: string;
  readonly functionID: number;
  readonly functionName: string;
  /** The executor instance writing: the statement is fenced on it owning the workflow. */
  readonly owner: string;
  /** Epoch ms the operation began: recorded with it. */
  readonly startedAt: number;
  /** Told when the statement found the workflow CANCELLED (it wrote anyway: the operation in flight records). */
  readonly onCancelled?: () => void;
}

/**
 * Inserts the message for the rows of `guard` (one row: send; none: already sent); a row per
 * message inserted. `check`: an expression the final select evaluates (the ownership fence).
 */
function sendStatement(guardCte: string, guard: string | undefined, check = 'true', extra = ''): string {
  return `WITH ${guardCte ? `${guardCte},` : ''}
    sent AS (
      INSERT INTO operon.notifications (destination_uuid, topic, message, created_at)
      SELECT $1::text, $2::text, $3::text, $4::bigint ${guard ? `FROM ${guard}` : ''}
      RETURNING 1)
    SELECT count(*)::int AS sent, ${check} AS checked${extra ? `, ${extra}` : ''} FROM sent`;
}

const SEND = sendStatement('', undefined);

const SEND_ONCE_PER_KEY = sendStatement(
  `claimed AS (
    INSERT INTO operon.message_idempotency_keys (idempotency_key, destination_uuid, created_at)
    VALUES ($5, $1, $4) ON CONFLICT (destination_uuid, idempotency_key) DO NOTHING
    RETURNING idempotency_key)`,
  'claimed',
);

const SEND_FROM_WORKFLOW = sendStatement(
  `${ownedCte('$5', '$8')},
  recorded AS (
    INSERT INTO operon.operation_outputs (workflow_uuid, function_id, function_name, output, error, created_at, started_at, detail)
    VALUES ($5, $6, $7, NULL, NULL, $4, $9, $10) ON CONFLICT (workflow_uuid, function_id) DO NOTHING
    RETURNING workflow_uuid)`,
  'recorded',
  ownedCheck('$5'),
  OWNED_STATUS,
);

/**
 * Sends from outside any workflow, without idempotency keys, any number in one statement; ids are
 * given in the order of `messages`, so a receiver takes them in that order.
 */
export async function sendMessages(pool: pg.Pool, messages: readonly OutgoingMessage[]): Promise<void> {
  await pool.query({
    name: 'operon_send_messages',
    text: `INSERT INTO operon.notifications (destination_uuid, topic, message, created_at)
      SELECT m.destination_uuid, m.topic, m.message, $4::bigint
      FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS m(destination_uuid, topic, message, n)
      ORDER BY m.n`,
    values: [messages.map((m) => m.destinationUUID), messages.map((m) => m.topic), messages.map((m) => m.message), Date.now()],
  });
}

/**
 * A send from outside any workflow; with a key, a second send of that key delivers nothing.
 * True when a message was stored (its receivers are then to be woken).
 */
export async function sendMessage(pool: pg.Pool, message: OutgoingMessage, idempotencyKey: string | undefined): Promise<boolean> {
  const values = [message.destinationUUID, message.topic, message.message, Date.now()];
  const { rows } =
    idempotencyKey === undefined ? await pool.query(SEND, values) : await pool.query(SEND_ONCE_PER_KEY, [...values, idempotencyKey]);
  return rows[0]!.sent === 1;
}

/** A workflow's send at operation `site`: the record and the message commit together, once. True when stored now. */
export async function sendMessageFromWorkflow(pool: pg.Pool, site: OperationSite, message: OutgoingMessage): Promise<boolean> {
  const { rows } = await pool.query(SEND_FROM_WORKFLOW, [
    message.destinationUUID,
    message.topic,
    message.message,
    Date.now(),
    site.workflowUUID,
    site.functionID,
    site.functionName,
    site.owner,
    site.startedAt,
    JSON.stringify({ destinationUUID: message.destinationUUID, topic: message.topic }),
  ]);
  noteStatus(site, rows[0]);
  return rows[0]!.sent === 1;
}

function consumeStatement(topicCondition: string): string {
  return `WITH ${ownedCte('$1', '$9')}, ${recordDeadlineCte({ workflow: '$1', functionID: '$2', now: '$4', name: '$6', value: '$7', startedAt: '$10', detail: '$11' })},
    taken AS (
      DELETE FROM operon.notifications WHERE message_id = (
        SELECT message_id FROM operon.notifications
        WHERE destination_uuid = $1::text AND ${topicCondition}
        ORDER BY message_id LIMIT 1
        FOR UPDATE SKIP LOCKED)
      RETURNING message),
    recorded AS (
      INSERT INTO operon.operation_outputs (workflow_uuid, function_id, function_name, output, error, created_at, started_at, detail)
      SELECT $1::text, $2::int, $5::text, coalesce((SELECT message FROM taken), 'null'), NULL, $4::bigint, $10::bigint, $11::text
      WHERE $8::boolean OR EXISTS (SELECT 1 FROM taken)
      RETURNING output)
    SELECT (SELECT output FROM recorded) AS output, ${ownedCheck('$1')} AS owned, ${OWNED_STATUS}`;
}

const CONSUME_DEFAULT_TOPIC = consumeStatement('topic IS NULL AND $3::text IS NULL');
const CONSUME_NAMED_TOPIC = consumeStatement('topic = $3::text');

export interface ConsumeRequest {
  /** The receiving workflow and the recv's operation id. */
  readonly site: OperationSite;
  readonly topic: string | null;
  /** The deadline to record at the id before the recv's (first attempt of a first run only). */
  readonly deadline: { readonly functionName: string; readonly epochMs: number } | undefined;
  /** The wait is over: record `null` if no message is there. */
  readonly final: boolean;
}

/**
 * One statement: records the deadline if asked, takes the oldest message of this workflow and
 * topic, and records it as the recv's output. Returns the record, or undefined when there was no
 * message and the wait is not over. Concurrent receivers skip each other's locked rows, so no two
 * take the same message.
 */
export async function consumeMessage(pool: pg.Pool, request: ConsumeRequest): Promise<OperationRecord | undefined> {
  const { site } = request;
  return recordOrExisting(pool, site, async () => {
    const { rows } = await pool.query<{ output: string; status: string | null }>(
      request.topic === null ? CONSUME_DEFAULT_TOPIC : CONSUME_NAMED_TOPIC,
      [
        site.workflowUUID,
        site.functionID,
        request.topic,
        Date.now(),
        site.functionName,
        request.deadline?.functionName ?? null,
        request.deadline === undefined ? null : JSON.stringify(request.deadline.epochMs),
        request.final,
        site.owner,
        site.startedAt,
        JSON.stringify({ topic: request.topic }),
      ],
    );
    noteStatus(site, rows[0]);
    return rows[0]?.output ?? undefined;
  });
}

/** The wait keys, among these destinations, that have a message waiting: the slow poll's query. */
export async function destinationsWithMessages(pool: pg.Pool, destinationUUIDs: readonly string[]): Promise<string[]> {
  const { rows } = await pool.query<{ destination_uuid: string; topic: string | null }>(
    'SELECT DISTINCT destination_uuid, topic FROM operon.notifications WHERE destination_uuid = ANY($1::text[])',
    [destinationUUIDs],
  );
  return rows.map((r) => messageWaitKey(r.destination_uuid, r.topic));
}
