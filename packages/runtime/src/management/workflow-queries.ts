/**
 * The reads behind the management API and `operon workflows`: the list (keyset pages, newest
 * first), one workflow with its children, and its operation records from both databases.
 */
import type pg from 'pg';
import { checkIdentifier } from '../client/identifiers.js';
import { OperonManagementRequestError, filterCondition, type WorkflowFilter } from './workflow-filter.js';

export const DEFAULT_PAGE = 50;
export const MAX_PAGE = 1000;

/** A workflow_status row as the management views need it. */
export interface ManagedWorkflowRow {
  readonly workflowUUID: string;
  readonly status: string;
  readonly workflowName: string;
  /** 'workflow', or 'operation' (one transaction or communicator run as a workflow). */
  readonly kind: string;
  readonly executorId: string;
  readonly owner: string | null;
  readonly authenticatedUser: string;
  readonly authenticatedRoles: readonly string[];
  readonly assumedRole: string;
  readonly parentUUID: string | null;
  readonly inputs: string;
  readonly output: string | null;
  readonly error: string | null;
  readonly request: string | null;
  readonly recoveryAttempts: number;
  /** The queue it was enqueued on (kept after it left the queue); null if never enqueued. */
  readonly queueName: string | null;
  /** The version it runs on; null when started without a bundle. */
  readonly version: string | null;
  readonly createdAt: number;
  readonly updatedAt: number;
  /** Its place in its queue, read for one workflow's detail only: (priority, enqueue order), and epoch ms it may start from. */
  readonly queuePriority?: number;
  readonly queueSeq?: number | null;
  readonly queueNotBefore?: number | null;
}

const SUMMARY_COLUMNS = `w.workflow_uuid, w.status, w.workflow_name, w.kind, w.executor_id, w.owner, w.authenticated_user, w.authenticated_roles,
  w.assumed_role, w.parent_uuid, w.recovery_attempts, w.queue_name, w.version, w.created_at, w.updated_at`;

function toRow(r: Record<string, any>): ManagedWorkflowRow {
  return {
    workflowUUID: r.workflow_uuid,
    status: r.status,
    workflowName: r.workflow_name,
    kind: r.kind,
    executorId: r.executor_id,
    owner: r.owner,
    authenticatedUser: r.authenticated_user,
    authenticatedRoles: JSON.parse(r.authenticated_roles),
    assumedRole: r.assumed_role,
    parentUUID: r.parent_uuid,
    inputs: r.inputs ?? '[]',
    output: r.output ?? null,
    error: r.error ?? null,
    request: r.request ?? null,
    recoveryAttempts: r.recovery_attempts,
    queueName: r.queue_name,
    version: r.version,
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
    ...(r.queue_priority === undefined
      ? {}
      : {
          queuePriority: r.queue_priority,
          queueSeq: r.queue_seq === null ? null : Number(r.queue_seq),
          queueNotBefore: r.queue_not_before === null ? null : Number(r.queue_not_before),
        }),
  };
}

/** The opaque cursor: where the last page ended, (created_at, workflow_uuid). */
export function encodeCursor(row: { createdAt: number; workflowUUID: string }): string {
  return Buffer.from(JSON.stringify([row.createdAt, row.workflowUUID])).toString('base64url');
}

function decodeCursor(cursor: string): [number, string] {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(value) && value.length === 2 && Number.isSafeInteger(value[0]) && typeof value[1] === 'string' && !/\u0000|\p{Cs}/u.test(value[1])) {
      return value as [number, string];
    }
  } catch {
    // Reported below.
  }
  throw new OperonManagementRequestError('cursor is not one this API gave out: pass the nextCursor of the previous page unchanged');
}

export function pageSize(value: unknown): number {
  if (value === undefined) return DEFAULT_PAGE;
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > MAX_PAGE) {
    throw new OperonManagementRequestError(`limit must be an integer from 1 to ${MAX_PAGE}, got ${JSON.stringify(value)}`);
  }
  return n;
}

/**
 * The statement of one list page: the rows `filter` selects, newest first, `limit` of them. Each
 * filter has an index that yields its rows in this order, so a page reads about `limit` index
 * entries however many rows the table holds. Several statuses are read as one ordered branch per
 * status, merged (a status = ANY(...) scan of the status index would read every row of those
 * statuses and sort them).
 */
export function listQuery(filter: WorkflowFilter, limit: number, cursor: string | undefined): { text: string; values: unknown[] } {
  const values: unknown[] = [];
  const statuses = filter.status && filter.status.length > 1 ? [...new Set(filter.status)] : undefined;
  let condition = filterCondition(statuses ? { ...filter, status: undefined } : filter, values);
  if (cursor !== undefined) {
    const [createdAt, uuid] = decodeCursor(cursor);
    values.push(createdAt, uuid);
    condition += ` AND (w.created_at, w.workflow_uuid) < ($${values.length - 1}, $${values.length})`;
  }
  values.push(limit);
  const order = `ORDER BY w.created_at DESC, w.workflow_uuid DESC LIMIT $${values.length}`;
  if (!statuses) return { text: `SELECT ${SUMMARY_COLUMNS} FROM operon.workflow_status w WHERE ${condition} ${order}`, values };
  const branches = statuses.map((status) => {
    values.push(status);
    return `(SELECT ${SUMMARY_COLUMNS} FROM operon.workflow_status w WHERE w.status = $${values.length} AND ${condition} ${order})`;
  });
  return { text: `SELECT * FROM (${branches.join(' UNION ALL ')}) w ${order}`, values };
}

/** One page of the workflows `filter` selects, newest first, and the cursor of the next page (undefined at the end). */
export async function listWorkflows(
  pool: pg.Pool,
  filter: WorkflowFilter,
  limit: number,
  cursor: string | undefined,
): Promise<{ rows: ManagedWorkflowRow[]; nextCursor: string | undefined }> {
  // One row more than the page tells whether there is a next page.
  const { text, values } = listQuery(filter, limit + 1, cursor);
  const { rows } = await pool.query(text, values);
  const page = rows.slice(0, limit).map(toRow);
  return { rows: page, nextCursor: rows.length > limit ? encodeCursor(page[page.length - 1]!) : undefined };
}

export async function getManagedWorkflow(pool: pg.Pool | pg.PoolClient, workflowUUID: string): Promise<ManagedWorkflowRow | undefined> {
  // Every get and change looks its workflow up here first: a UUID no workflow can have (a NUL, which
  // Postgres would refuse with its own error) is a 400 before any query.
  checkIdentifier('workflow UUID', workflowUUID);
  const { rows } = await pool.query(
    `SELECT ${SUMMARY_COLUMNS}, w.inputs, w.output, w.error, w.request, w.queue_priority, w.queue_seq, w.queue_not_before
     FROM operon.workflow_status w WHERE w.workflow_uuid = $1`,
    [workflowUUID],
  );
  return rows[0] ? toRow(rows[0]) : undefined;
}

/**
 * An ENQUEUED workflow's place in its queue: 1 + how many of the queue's waiting workflows a
 * dequeue takes before it (lower priority value first, then enqueue order). Counted on the
 * dequeue's own index, so it costs the entries ahead of it.
 */
export async function queuePositionOf(pool: pg.Pool, row: ManagedWorkflowRow): Promise<number | undefined> {
  if (row.queueName === null || row.queueSeq === null || row.queueSeq === undefined) return undefined;
  const { rows } = await pool.query<{ ahead: number }>(
    `SELECT count(*)::int AS ahead FROM operon.workflow_status
     WHERE status = 'ENQUEUED' AND queue_name = $1 AND (queue_priority, queue_seq) < ($2::int, $3::bigint)`,
    [row.queueName, row.queuePriority ?? 0, row.queueSeq],
  );
  return rows[0]!.ahead + 1;
}

export async function childrenOf(pool: pg.Pool, workflowUUID: string): Promise<ManagedWorkflowRow[]> {
  const { rows } = await pool.query(
    `SELECT ${SUMMARY_COLUMNS} FROM operon.workflow_status w WHERE w.parent_uuid = $1 ORDER BY w.created_at, w.workflow_uuid`,
    [workflowUUID],
  );
  return rows.map(toRow);
}

/** One recorded operation: from the system database, or a committed transaction from the app database. */
export interface StepRecord {
  readonly functionID: number;
  readonly functionName: string;
  readonly output: string | null;
  readonly error: string | null;
  /** Epoch ms the record was written (the operation's end). */
  readonly recordedAt: number;
  /** Epoch ms the operation began; null in a record written before starts were recorded. */
  readonly startedAt: number | null;
  /** What a send, recv, setEvent or getEvent addressed (JSON text: topic, key, destination); null otherwise. */
  readonly detail: string | null;
  readonly database: 'system' | 'app';
}

/** Every record of a workflow, both databases, in operation-id order. */
export async function stepRecords(systemPool: pg.Pool, appPool: pg.Pool, workflowUUID: string): Promise<StepRecord[]> {
  const [system, app] = await Promise.all([
    systemPool.query(
      'SELECT function_id, function_name, output, error, created_at, started_at, detail FROM operon.operation_outputs WHERE workflow_uuid = $1',
      [workflowUUID],
    ),
    appPool.query('SELECT function_id, function_name, output, created_at, started_at FROM operon.transaction_outputs WHERE workflow_uuid = $1', [
      workflowUUID,
    ]),
  ]);
  const records: StepRecord[] = [
    ...system.rows.map((r) => ({
      functionID: r.function_id,
      functionName: r.function_name,
      output: r.output,
      error: r.error,
      recordedAt: Number(r.created_at),
      startedAt: r.started_at === null ? null : Number(r.started_at),
      detail: r.detail,
      database: 'system' as const,
    })),
    ...app.rows.map((r) => ({
      functionID: r.function_id,
      functionName: r.function_name,
      output: r.output,
      error: null,
      recordedAt: Number(r.created_at),
      startedAt: r.started_at === null ? null : Number(r.started_at),
      detail: null,
      database: 'app' as const,
    })),
  ];
  return records.sort((a, b) => a.functionID - b.functionID);
}

/** The executor instance that owns a workflow, and whether it is alive; undefined for no owner row. */
export interface OwnerState {
  readonly instanceId: string;
  readonly executorId: string;
  readonly host: string;
  readonly pid: number;
  readonly alive: boolean;
  /** Epoch ms by the database's clock. */
  readonly heartbeatAt: number;
  readonly leaseMs: number;
  /** Epoch ms by the database's clock, now. */
  readonly databaseNow: number;
  /** The version it serves; for a hand-over instance, the version its workflow waits for a loader of. */
  readonly version: string | null;
}

export async function ownerState(pool: pg.Pool, instanceId: string): Promise<OwnerState | undefined> {
  const { rows } = await pool.query(
    `SELECT instance_id, executor_id, host, pid, lease_ms, version, (extract(epoch FROM heartbeat_at) * 1000)::bigint AS heartbeat_ms,
       (extract(epoch FROM now()) * 1000)::bigint AS now_ms,
       (state = 'live' AND heartbeat_at > now() - lease_ms * interval '1 millisecond') AS alive
     FROM operon.executors WHERE instance_id = $1`,
    [instanceId],
  );
  const r = rows[0];
  if (!r) return undefined;
  return {
    instanceId: r.instance_id,
    executorId: r.executor_id,
    host: r.host,
    pid: r.pid,
    alive: r.alive === true,
    heartbeatAt: Number(r.heartbeat_ms),
    leaseMs: r.lease_ms,
    databaseNow: Number(r.now_ms),
    version: r.version ?? null,
  };
}
