import type pg from 'pg';
import type { ForkCopy } from './fork-copies.js';
import type { RecordedHttpRequest, WorkflowStatus, WorkflowStatusName } from '@operon/sdk';

export interface WorkflowIdentity {
  readonly authenticatedUser: string;
  readonly authenticatedRoles: readonly string[];
  readonly assumedRole: string;
}

/** 'workflow': a @Workflow method; 'operation': one transaction or communicator run as a workflow. */
export type WorkflowKind = 'workflow' | 'operation';

export interface NewWorkflow extends WorkflowIdentity {
  readonly workflowUUID: string;
  /** The executor instance that runs it: the only one that may write its records. */
  readonly owner: string;
  readonly workflowName: string;
  readonly kind: WorkflowKind;
  readonly executorId: string;
  readonly inputs: string;
  readonly request: string | null;
  readonly parentUUID: string | null;
  /** The version (bundle hash) whose code runs it; null without a bundle. */
  readonly version: string | null;
}

/** A workflow_status row, as the executor needs it for recovery and results. */
export interface WorkflowRow extends WorkflowIdentity {
  readonly workflowUUID: string;
  readonly status: WorkflowStatusName;
  readonly workflowName: string;
  readonly kind: WorkflowKind;
  readonly parentUUID: string | null;
  /** The executor that runs it (and recovers it while it is PENDING). */
  readonly executorId: string;
  /** The executor instance that owns it; null for a workflow from before executors registered. */
  readonly owner: string | null;
  /** How many times it changed hands. */
  readonly ownerEpoch: number;
  readonly inputs: string;
  readonly output: string | null;
  readonly error: string | null;
  readonly request: string | null;
  /** The version (bundle hash) it started on; null when it started without a bundle (any code runs it). */
  readonly version: string | null;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export const COLUMNS = `workflow_uuid, status, workflow_name, kind, parent_uuid, executor_id, owner, owner_epoch, inputs, output, error, authenticated_user,
  authenticated_roles, assumed_role, request, version, created_at, updated_at`;

export function toRow(r: Record<string, any>): WorkflowRow {
  return {
    workflowUUID: r.workflow_uuid,
    status: r.status,
    workflowName: r.workflow_name,
    kind: r.kind,
    parentUUID: r.parent_uuid,
    executorId: r.executor_id,
    owner: r.owner,
    ownerEpoch: r.owner_epoch,
    inputs: r.inputs,
    output: r.output,
    error: r.error,
    authenticatedUser: r.authenticated_user,
    authenticatedRoles: JSON.parse(r.authenticated_roles),
    assumedRole: r.assumed_role,
    request: r.request,
    version: r.version ?? null,
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  };
}

/** The identity a workflow was recorded with: it runs with it whoever resumes or replays it. */
export function identityOf(row: WorkflowRow): WorkflowIdentity {
  return { authenticatedUser: row.authenticatedUser, authenticatedRoles: row.authenticatedRoles, assumedRole: row.assumedRole };
}

/** The request recorded with the workflow, if one started it: a recovered run sees what the first saw. */
export function requestOf(row: WorkflowRow): RecordedHttpRequest | null {
  return row.request === null ? null : (JSON.parse(row.request) as RecordedHttpRequest);
}

export function toStatus(row: WorkflowRow): WorkflowStatus {
  return {
    status: row.status,
    workflowName: row.workflowName,
    authenticatedUser: row.authenticatedUser,
    authenticatedRoles: row.authenticatedRoles,
    assumedRole: row.assumedRole,
    request: requestOf(row),
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

/**
 * Parameters $1-$11 of a new workflow row, in the order every INSERT of one uses: uuid, name,
 * executor id, inputs, user, roles, assumed role, request, parent, created/updated at, kind.
 */
export function workflowRowValues(wf: NewWorkflow, now: number): unknown[] {
  return [
    wf.workflowUUID,
    wf.workflowName,
    wf.executorId,
    wf.inputs,
    wf.authenticatedUser,
    JSON.stringify(wf.authenticatedRoles),
    wf.assumedRole,
    wf.request,
    wf.parentUUID,
    now,
    wf.kind,
  ];
}

/**
 * Records a new PENDING workflow in one statement. Returns false when the UUID already exists:
 * the caller then attaches to that workflow instead of running it again.
 *
 * A child is checked against its parent in the same statement: under a CANCELLED parent it is
 * recorded CANCELLED, owned by nobody, and false is returned, so it never runs (a resume of the
 * parent resumes it with the rest of the tree). The parent's row is read FOR SHARE: a cancel
 * still committing holds it, so the start waits for that cancel and reads its outcome; a start
 * that read the parent first holds the cancel back until it commits, and the cancel's walk of the
 * tree (see workflow-changes.ts) then finds the child.
 */
export async function insertWorkflow(pool: pg.Pool, wf: NewWorkflow): Promise<boolean> {
  const now = Date.now();
  const values = [...workflowRowValues(wf, now), wf.owner, wf.version];
  if (wf.parentUUID === null) {
    const { rowCount } = await pool.query({
      // Named: each connection parses and plans the hot-path statements once, not per call.
      name: 'operon_insert_workflow',
      text: `INSERT INTO operon.workflow_status (workflow_uuid, status, workflow_name, kind, executor_id, inputs,
         authenticated_user, authenticated_roles, assumed_role, request, parent_uuid, created_at, updated_at, owner, version)
       VALUES ($1, 'PENDING', $2, $11, $3, $4, $5, $6, $7, $8, $9, $10, $10, $12, $13)
       ON CONFLICT (workflow_uuid) DO NOTHING`,
      values,
    });
    return rowCount === 1;
  }
  const { rows } = await pool.query<{ status: string }>({
    name: 'operon_insert_child_workflow',
    text: `WITH parent AS (SELECT status = 'CANCELLED' AS cancelled FROM operon.workflow_status WHERE workflow_uuid = $9 FOR SHARE)
     INSERT INTO operon.workflow_status (workflow_uuid, status, workflow_name, kind, executor_id, inputs,
       authenticated_user, authenticated_roles, assumed_role, request, parent_uuid, created_at, updated_at, owner, version)
     VALUES ($1, CASE WHEN (SELECT cancelled FROM parent) THEN 'CANCELLED' ELSE 'PENDING' END, $2, $11, $3, $4, $5, $6, $7, $8, $9, $10, $10,
       CASE WHEN (SELECT cancelled FROM parent) THEN NULL ELSE $12 END, $13)
     ON CONFLICT (workflow_uuid) DO NOTHING
     RETURNING status`,
    values,
  });
  return rows[0]?.status === 'PENDING';
}

export interface WorkflowEnd {
  readonly workflowUUID: string;
  /** The instance ending it: an end from an instance that no longer owns the workflow changes nothing. */
  readonly owner: string;
  readonly status: 'SUCCESS' | 'ERROR';
  /** JSON text of the output (SUCCESS) or of the error (ERROR). */
  readonly output: string | null;
  readonly error: string | null;
}

/**
 * Ends PENDING workflows with their outputs or errors, any number in one statement, each only by
 * its owner (a finished workflow is never rewritten); says, per end, whether it was written.
 */
export async function recordWorkflowEnds(pool: pg.Pool, ends: readonly WorkflowEnd[]): Promise<boolean[]> {
  const { rows } = await pool.query<{ workflow_uuid: string }>({
    name: 'operon_end_workflows',
    text: `UPDATE operon.workflow_status AS w SET status = e.status, output = e.output, error = e.error, updated_at = $6
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS e(workflow_uuid, status, output, error, owner)
     WHERE w.workflow_uuid = e.workflow_uuid AND w.status = 'PENDING' AND w.owner = e.owner
     RETURNING w.workflow_uuid`,
    values: [
      ends.map((e) => e.workflowUUID),
      ends.map((e) => e.status),
      ends.map((e) => e.output),
      ends.map((e) => e.error),
      ends.map((e) => e.owner),
      Date.now(),
    ],
  });
  const ended = new Set(rows.map((r) => r.workflow_uuid));
  return ends.map((e) => ended.has(e.workflowUUID));
}

export async function getWorkflow(pool: pg.Pool, workflowUUID: string): Promise<WorkflowRow | undefined> {
  const { rows } = await pool.query(`SELECT ${COLUMNS} FROM operon.workflow_status WHERE workflow_uuid = $1`, [workflowUUID]);
  return rows[0] ? toRow(rows[0]) : undefined;
}

/** A workflow a claim took over, with the queue it came from (null if none). */
export interface ClaimedRow extends WorkflowRow {
  readonly queueName: string | null;
}

/** What a recovery page found: the workflows to resume, those sent back to their queue, and those that reached their recovery limit now. */
export interface RecoveryPage {
  readonly resumable: ClaimedRow[];
  /** Queued workflows beyond the claimer's free worker slots: ENQUEUED again, in their old place. */
  readonly requeued: ClaimedRow[];
  readonly exceeded: string[];
  /** Forks among the resumable ones whose transaction outputs are still to be copied before they run. */
  readonly forkCopies: ForkCopy[];
  /** The last UUID of the page, to page on from; undefined when the page was empty. */
  readonly lastUUID: string | undefined;
}

/** Whose PENDING workflows a claim takes over. */
export interface ClaimSource {
  /** Instances that are not live (dead, stopped) whose workflows are taken. */
  readonly instances: readonly string[];
  /** Also workflows from before executors registered (no owner) of this executor id. */
  readonly legacyExecutorId?: string;
  /** Versions the claimer cannot load: their workflows are left for executors that can. */
  readonly skipVersions?: readonly string[];
}

/** A queue whose workflows the claimer may run at most `workerConcurrency` of at once. */
export interface WorkerLimit {
  readonly name: string;
  readonly workerConcurrency: number;
}

/**
 * Takes over one page of PENDING workflows of `from`, after `afterUUID` (keyset paging), in one
 * statement: rows another claimer holds are skipped (SKIP LOCKED), so when several executors race
 * each workflow has exactly one winner. A workflow whose recovered runs died `maxAttempts` times
 * while performing an operation (see countRecoveryAttempts) becomes RETRIES_EXCEEDED instead.
 *
 * A workflow of a queue in `workerLimits` is taken only while the claimer has a free worker slot
 * of that queue (its limit, less what it runs already, filled in the queue's own order); the
 * others go back to ENQUEUED in their old place (priority and enqueue order kept), owner NULL, so
 * that whoever has room dequeues them. Their epoch moves on by two: the claimer fences the old
 * owner's transactions out at the first (see SystemDatabase.claimWorkflows), the taker fences
 * them to itself at the second. The caller must not dequeue for itself meanwhile, or the count
 * of what it runs could be stale.
 */
export async function claimWorkflows(
  pool: pg.Pool,
  claimer: { readonly owner: string; readonly executorId: string },
  from: ClaimSource,
  afterUUID: string,
  limit: number,
  maxAttempts: number,
  workerLimits: readonly WorkerLimit[] = [],
): Promise<RecoveryPage> {
  // Pages are cut in bytewise order ("C"), whatever the database's collation, and the cursor is
  // the database's own maximum: an order computed here could disagree with the one the page used.
  const { rows } = await pool.query(
    `WITH page AS (
       SELECT workflow_uuid, owner, queue_name, queue_priority, queue_seq, recovery_attempts FROM operon.workflow_status
       WHERE status = 'PENDING' AND workflow_uuid COLLATE "C" > $2
         AND (owner = ANY($1::text[]) OR (owner IS NULL AND executor_id = $8))
         AND (version IS NULL OR version <> ALL($9::text[]))
       ORDER BY workflow_uuid COLLATE "C" LIMIT $3
       FOR UPDATE SKIP LOCKED),
     limits AS (SELECT * FROM unnest($10::text[], $11::int[]) AS l(queue_name, worker_concurrency)),
     mine AS (
       SELECT queue_name, count(*) AS n FROM operon.workflow_status
       WHERE status = 'PENDING' AND owner = $6 AND queue_name IN (SELECT queue_name FROM limits) GROUP BY queue_name),
     ranked AS (
       SELECT p.workflow_uuid, l.worker_concurrency, coalesce(m.n, 0) AS running,
         row_number() OVER (PARTITION BY p.queue_name ORDER BY p.queue_priority, p.queue_seq) AS nth
       FROM page p JOIN limits l ON l.queue_name = p.queue_name LEFT JOIN mine m ON m.queue_name = p.queue_name
       -- One the claimer owns already runs here (counted in mine); an exceeded one takes no slot.
       WHERE p.owner IS DISTINCT FROM $6 AND p.recovery_attempts < $4),
     over AS (SELECT workflow_uuid FROM ranked WHERE nth + running > worker_concurrency),
     claimed AS (
       UPDATE operon.workflow_status w SET
         owner = CASE WHEN o.workflow_uuid IS NULL THEN $6 END,
         executor_id = CASE WHEN o.workflow_uuid IS NULL THEN $7 ELSE w.executor_id END,
         owner_epoch = w.owner_epoch + CASE WHEN o.workflow_uuid IS NULL THEN 1 ELSE 2 END,
         status = CASE WHEN w.recovery_attempts >= $4 THEN 'RETRIES_EXCEEDED' WHEN o.workflow_uuid IS NOT NULL THEN 'ENQUEUED' ELSE w.status END,
         updated_at = CASE WHEN w.recovery_attempts >= $4 OR o.workflow_uuid IS NOT NULL THEN $5 ELSE w.updated_at END
       FROM page p LEFT JOIN over o ON o.workflow_uuid = p.workflow_uuid
       WHERE w.workflow_uuid = p.workflow_uuid
       RETURNING ${COLUMNS.replace(/(\w+)/g, 'w.$1')}, w.queue_name)
     -- A fork not yet adopted has its transaction outputs still to copy (see fork-copies.ts).
     SELECT c.*, f.source_uuid AS fork_source, f.from_step AS fork_step, max(c.workflow_uuid COLLATE "C") OVER () AS page_end
     FROM claimed c LEFT JOIN operon.fork_copies f ON f.workflow_uuid = c.workflow_uuid ORDER BY c.workflow_uuid COLLATE "C"`,
    [
      from.instances,
      afterUUID,
      limit,
      maxAttempts,
      Date.now(),
      claimer.owner,
      claimer.executorId,
      from.legacyExecutorId ?? null,
      from.skipVersions ?? [],
      workerLimits.map((l) => l.name),
      workerLimits.map((l) => l.workerConcurrency),
    ],
  );
  const all: ClaimedRow[] = rows.map((r) => ({ ...toRow(r), queueName: r.queue_name ?? null }));
  return {
    resumable: all.filter((row) => row.status === 'PENDING'),
    forkCopies: rows
      .filter((r) => r.fork_step !== null && r.status === 'PENDING')
      .map((r) => ({ workflowUUID: r.workflow_uuid, sourceUUID: r.fork_source, fromStep: r.fork_step })),
    requeued: all.filter((row) => row.status === 'ENQUEUED'),
    exceeded: all.filter((row) => row.status === 'RETRIES_EXCEEDED').map((row) => row.workflowUUID),
    lastUUID: rows[0]?.page_end ?? undefined,
  };
}

/**
 * Counts one more recovery attempt for each of these workflows: a recovered run is about to
 * perform its first operation, the kind of moment a workflow that crashes its process dies in.
 * Written before the operation runs, so a crash during it is counted.
 */
export async function countRecoveryAttempts(pool: pg.Pool, workflowUUIDs: readonly string[]): Promise<void> {
  await pool.query(
    `UPDATE operon.workflow_status SET recovery_attempts = recovery_attempts + 1 WHERE workflow_uuid = ANY($1::text[]) AND status = 'PENDING'`,
    [workflowUUIDs],
  );
}

/**
 * Forgets the recovery attempts of PENDING workflows: of those a graceful stop interrupted (a
 * deploy is not a crash, and must not bring a long-running workflow closer to RETRIES_EXCEEDED),
 * and of recovered ones that performed an operation (they got past what killed their last run).
 */
export async function resetRecoveryAttempts(pool: pg.Pool, workflowUUIDs: readonly string[]): Promise<void> {
  await pool.query(
    `UPDATE operon.workflow_status SET recovery_attempts = 0 WHERE workflow_uuid = ANY($1::text[]) AND status = 'PENDING'`,
    [workflowUUIDs],
  );
}

/** Which of these workflows are CANCELLED: how a process that does not LISTEN hears of a cancel. */
export async function cancelledAmong(pool: pg.Pool, workflowUUIDs: readonly string[]): Promise<string[]> {
  const { rows } = await pool.query<{ workflow_uuid: string }>(
    "SELECT workflow_uuid FROM operon.workflow_status WHERE workflow_uuid = ANY($1::text[]) AND status = 'CANCELLED'",
    [workflowUUIDs],
  );
  return rows.map((r) => r.workflow_uuid);
}

/** Whether the workflow is CANCELLED, waiting for a change of its row that is still committing. */
export async function confirmCancelled(pool: pg.Pool, workflowUUID: string): Promise<boolean> {
  const { rows } = await pool.query<{ status: string }>('SELECT status FROM operon.workflow_status WHERE workflow_uuid = $1 FOR SHARE', [workflowUUID]);
  return rows[0]?.status === 'CANCELLED';
}

/**
 * A cancelled run lets go of its workflow once nothing it started is still in flight: the owner
 * becomes NULL, so a resume may hand the workflow to a new run (while the owner is a live
 * executor, a resume waits: that run may still be calling out). Conditional, so a late release
 * never takes the workflow from a newer owner.
 */
export async function releaseCancelled(pool: pg.Pool, workflowUUID: string, owner: string): Promise<boolean> {
  const { rowCount } = await pool.query(
    "UPDATE operon.workflow_status SET owner = NULL WHERE workflow_uuid = $1 AND owner = $2 AND status = 'CANCELLED'",
    [workflowUUID, owner],
  );
  return rowCount === 1;
}
