/**
 * The changes an operator makes: cancel, resume, restart and fork, one workflow or (cancel,
 * resume) all a filter selects. Each is one statement on the system database that also writes
 * its audit entry, so no change goes unrecorded.
 *
 * - Cancel marks the workflows and their whole child tree CANCELLED (a recursive CTE over
 *   parent_uuid) and notifies every process (LISTEN/NOTIFY), whose executor then starts no further
 *   operation of them; the operation in flight still records, and that record write reads the
 *   status, so a run that missed the notification stops at its next operation. A transaction
 *   records in the app database: there the cancel marks the workflows' fence rows before its
 *   statement commits, and a transaction's commit returns the mark.
 * - Resume, restart and fork hand their workflows to a new `stopped` executor instance: any live
 *   executor adopts them at its next heartbeat (at once, when the change is made through a
 *   runtime that runs workflows), so the CLI needs no server. Adoption then fences the previous
 *   owner, which writes nothing more for them.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type pg from 'pg';
import { OperonError, OperonWorkflowConflictError, OperonWorkflowNotFoundError } from '@operon/sdk';
import { checkClientUUID } from '../client/identifiers.js';
import { NOTIFICATION_CHANNEL } from '../system-db/notification-channel.js';
import { OperonManagementRequestError, filterCondition, isEmptyFilter, type WorkflowFilter } from './workflow-filter.js';
import { getManagedWorkflow } from './workflow-queries.js';
import { clearCancelled, fenceForMove, markCancelled } from '../system-db/transaction-outputs.js';
import { outputsToFork } from '../system-db/fork-copies.js';
import { isConnectionFailure } from '../database/infrastructure-failure.js';
import { SQLSTATE, sqlState } from '../database/sqlstate.js';
import { firstWaitingOnRemovedChild, unreadRemovedChild } from './removed-children.js';

/** A change that the workflow's status does not allow (resuming a running one, cancelling an ended one): answered with 409. */
export class OperonManagementConflictError extends OperonError {
  static override readonly CODE = 'OPERON_ERR_MANAGEMENT_CONFLICT';
  readonly status = 409;
}

/**
 * A resume of a cancelled workflow whose previous run is still finishing the communicator it had
 * in flight when the cancel came: a new run now would call out a second time. Answered with 409.
 */
export class OperonManagementStillFinishingError extends OperonError {
  static override readonly CODE = 'OPERON_ERR_MANAGEMENT_STILL_FINISHING';
  readonly status = 409;
}

/**
 * A cancel or resume whose step on the app database (marking, or clearing, the workflows' fence
 * rows) failed or did not finish in time: it changed nothing in either database. Answered with 503.
 */
export class OperonManagementAppDatabaseError extends OperonError {
  static override readonly CODE = 'OPERON_ERR_MANAGEMENT_APP_DATABASE';
  readonly status = 503;
  constructor(message: string, cause: unknown) {
    super(message);
    this.cause = cause;
  }
}

/**
 * A cancel or resume whose own work on the system database (reading its workflow, locking and
 * changing the rows) failed or did not finish in time: a row held locked by another transaction,
 * a pool held whole, a server that does not answer. It changed nothing. Answered with 503.
 */
export class OperonManagementSystemDatabaseError extends OperonError {
  static override readonly CODE = 'OPERON_ERR_MANAGEMENT_SYSTEM_DATABASE';
  readonly status = 503;
  constructor(message: string, cause: unknown) {
    super(message);
    this.cause = cause;
  }
}

/**
 * How long a cancel or resume waits for the app database while it holds its workflows' system
 * rows locked (every writer to those rows waits as long): past it, it rolls back and fails.
 */
export const APP_DATABASE_DEADLINE_MS = 5_000;

/**
 * How long a cancel or resume may take on the system database, from asking for a connection to
 * having locked and changed its rows (its app step not counted): past it, it rolls back and fails.
 */
export const SYSTEM_DATABASE_DEADLINE_MS = 5_000;

/** The longest deadline a timer (and the server's statement_timeout) can wait for: 2^31 - 1 ms. */
const LONGEST_DEADLINE_MS = 2_147_483_647;

/** Refuses a deadline no timer can keep, before the change locks anything (a longer one would fire at once). */
function checkDeadline(name: 'appDeadlineMs' | 'systemDeadlineMs', deadlineMs: number): void {
  if (!Number.isInteger(deadlineMs) || deadlineMs < 1 || deadlineMs > LONGEST_DEADLINE_MS) {
    throw new RangeError(`${name} must be a whole number of milliseconds from 1 to ${LONGEST_DEADLINE_MS}, got ${deadlineMs}`);
  }
}

/** A change's step on one database: how long it may take, and which change it is (named in its error). */
interface ChangeStep {
  readonly deadlineMs: number;
  readonly verb: 'cancel' | 'resume';
  readonly target: ChangeTarget;
}

/** A change's own deadline passed before the database answered. */
class DeadlinePassed extends Error {}

/** Rejects with DeadlinePassed once `deadlineMs` have passed (until cleared); `passed` says whether it did. */
function deadlineOf(deadlineMs: number): { readonly expired: Promise<never>; passed(): boolean; clear(): void } {
  let passed = false;
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      passed = true;
      reject(new DeadlinePassed(`it did not answer within ${deadlineMs} ms`));
    }, deadlineMs);
  });
  expired.catch(() => undefined);
  return { expired, passed: () => passed, clear: () => clearTimeout(timer) };
}

/**
 * The failure of a change's system step as its caller sees it: a deadline passed (ours, or the
 * server's statement_timeout or lock_timeout) or a lost connection is a 503 of its own; anything
 * else (a conflict the statement found) is passed on as it is.
 */
function systemStepFailure(step: ChangeStep, error: unknown): unknown {
  const code = sqlState(error);
  const timedOut = error instanceof DeadlinePassed || code === SQLSTATE.QUERY_CANCELED || code === SQLSTATE.LOCK_NOT_AVAILABLE;
  // Operon's own errors (a workflow not found, a conflict) are what the step found, not a failure of the database.
  const lost = !(error instanceof OperonError) && !(error instanceof StaleMove) && isConnectionFailure(error);
  if (!timedOut && !lost) return error;
  const what = 'workflowUUID' in step.target ? `workflow ${step.target.workflowUUID}` : 'the workflows the filter selects';
  return new OperonManagementSystemDatabaseError(
    `cannot ${step.verb} ${what}: the system database failed while the ${step.verb} read or locked its workflows (${(error as Error).message}); nothing was changed: try again once the system database answers (or once whatever holds those workflows' rows locked lets go)`,
    error,
  );
}

/** `work` (a read before the change) within the system step's deadline; its failure as {@link systemStepFailure} says. */
async function withinSystemDeadline<T>(step: ChangeStep, work: Promise<T>): Promise<T> {
  const deadline = deadlineOf(step.deadlineMs);
  work.catch(() => undefined);
  try {
    return await Promise.race([work, deadline.expired]);
  } catch (error) {
    throw systemStepFailure(step, error);
  } finally {
    deadline.clear();
  }
}

/** How long a resume waits for a cancelled run to let go of its workflow before it answers 409. */
export const RESUME_WAIT_MS = 5_000;

/** How many records of a workflow a move's check saw: in the system database, and transaction outputs in the app database. */
export interface CheckedRecords {
  readonly system: number;
  readonly transactions: number;
}

/** A resume's move of one workflow to another version, checked by the caller on its records. */
export interface CheckedMove {
  readonly version: string;
  readonly workflowUUID: string;
  /** How many records it held when checked. */
  readonly records: CheckedRecords;
  /** Checks again (the workflow gained records since): the counts it checked, or throws the divergence. */
  readonly check: () => Promise<CheckedRecords>;
}
const RESUME_RETRY_MS = 50;

/** Who made a change, and how they asked: recorded in the audit log. */
export interface ChangeAuthor {
  readonly actor: string;
}

export interface ChangeResult {
  /** How many workflows changed status (cancel, resume) or were created (restart, fork). */
  readonly changed: number;
  readonly workflowUUIDs: string[];
  /** The instance that holds resumed or new workflows until an executor adopts them. */
  readonly handover?: string;
}

/** Which workflows a change starts from: one UUID, or every one a filter selects. */
export type ChangeTarget = { readonly workflowUUID: string } | { readonly filter: WorkflowFilter };

const CANCELLABLE = ['PENDING', 'ENQUEUED'];
const RESUMABLE = ['CANCELLED', 'ERROR', 'RETRIES_EXCEEDED'];

function rootsOf(target: ChangeTarget, values: unknown[]): string {
  if ('workflowUUID' in target) {
    values.push(target.workflowUUID);
    return `w.workflow_uuid = $${values.length}`;
  }
  if (isEmptyFilter(target.filter)) {
    throw new OperonManagementRequestError('a bulk change needs at least one filter (to change every workflow, say so: status=PENDING)');
  }
  return filterCondition(target.filter, values);
}

/** `unless`: a condition under which the statement changes nothing, and nothing is written here either. */
function auditCte(values: unknown[], author: ChangeAuthor, action: string, request: unknown, from: string, unless = 'false'): string {
  values.push(Date.now(), author.actor, action, JSON.stringify(request));
  const n = values.length;
  return `audit AS (
    INSERT INTO operon.audit_log (at, actor, action, request, workflow_uuids, changed)
    SELECT $${n - 3}, $${n - 2}, $${n - 1}, $${n}, coalesce(array_agg(workflow_uuid ORDER BY workflow_uuid), '{}'), count(*) FROM ${from}
    HAVING NOT (${unless})
    RETURNING audit_id)`;
}

/** A new `stopped` instance that holds workflows for adoption (parameter `$n` is its id), unless `unless` holds. */
function handoverCte(n: number, unless: string): string {
  return `handover AS (
    INSERT INTO operon.executors (instance_id, executor_id, host, host_key, pid, session_tag, started_at, lease_ms, state)
    SELECT $${n}, 'operon-handover', $${n + 1}, 'handover', 0, '', $${n + 2}, 0, 'stopped' WHERE NOT (${unless}) RETURNING instance_id)`;
}

function pushHandover(values: unknown[], unless = 'false'): { id: string; cte: string } {
  const id = `handover-${randomUUID()}`;
  values.push(id, hostname(), Date.now());
  return { id, cte: handoverCte(values.length - 2, unless) };
}

async function requireWorkflow(pool: pg.Pool, workflowUUID: string) {
  const row = await getManagedWorkflow(pool, workflowUUID);
  if (!row) throw new OperonWorkflowNotFoundError(workflowUUID);
  return row;
}

/**
 * Cancels the target and every workflow below it that is PENDING or ENQUEUED, in one statement.
 * A single workflow that has ended already is a conflict; one cancelled already changes nothing.
 */
export async function cancelWorkflows(
  pool: pg.Pool,
  target: ChangeTarget,
  author: ChangeAuthor,
  {
    appPool,
    appDeadlineMs = APP_DATABASE_DEADLINE_MS,
    systemDeadlineMs = SYSTEM_DATABASE_DEADLINE_MS,
  }: {
    /** The app database: its fence rows are marked too, so a transaction's commit tells its run. */
    readonly appPool?: pg.Pool;
    /** How long the marking may take (the tree's system rows stay locked meanwhile). */
    readonly appDeadlineMs?: number;
    /** How long reading, locking and changing the tree's system rows may take. */
    readonly systemDeadlineMs?: number;
  } = {},
): Promise<ChangeResult> {
  checkDeadline('appDeadlineMs', appDeadlineMs);
  checkDeadline('systemDeadlineMs', systemDeadlineMs);
  const system: ChangeStep = { deadlineMs: systemDeadlineMs, verb: 'cancel', target };
  if ('workflowUUID' in target) {
    const row = await withinSystemDeadline(system, requireWorkflow(pool, target.workflowUUID));
    if (row.status !== 'CANCELLED' && !CANCELLABLE.includes(row.status)) {
      throw new OperonManagementConflictError(`workflow ${row.workflowUUID} is ${row.status}: only a PENDING or ENQUEUED workflow can be cancelled`);
    }
  }
  const values: unknown[] = [];
  const roots = rootsOf(target, values);
  values.push(CANCELLABLE);
  const cancellable = values.length;
  const audit = auditCte(values, author, 'workflowUUID' in target ? 'cancel' : 'bulk-cancel', target, 'changed');
  const app = appPool === undefined ? undefined : { pool: appPool, deadlineMs: appDeadlineMs, verb: 'cancel' as const, target };
  const rows = await underRowLocks(pool, system, app, async (client) => cancelLateChildren(client, await client.query(
    `WITH RECURSIVE tree (workflow_uuid) AS (
       SELECT w.workflow_uuid FROM operon.workflow_status w WHERE ${roots}
       UNION
       SELECT c.workflow_uuid FROM operon.workflow_status c JOIN tree t ON c.parent_uuid = t.workflow_uuid),
     changed AS (
       -- One still ENQUEUED runs nowhere: nobody has to let go of it before a resume.
       UPDATE operon.workflow_status w SET status = 'CANCELLED', updated_at = $${cancellable + 1},
         owner = CASE WHEN w.status = 'ENQUEUED' THEN NULL ELSE w.owner END
       FROM tree WHERE w.workflow_uuid = tree.workflow_uuid AND w.status = ANY($${cancellable}::text[])
       RETURNING w.workflow_uuid),
     notified AS (
       SELECT count(pg_notify('${NOTIFICATION_CHANNEL}', json_build_array('c', workflow_uuid, NULL)::text)) AS n FROM changed),
     ${audit}
     SELECT (SELECT n FROM notified) AS changed, array(SELECT workflow_uuid FROM changed) AS uuids, (SELECT audit_id FROM audit) AS audit_id`,
    values,
  )), markCancelled);
  return { changed: Number(rows[0].changed), workflowUUIDs: rows[0].uuids };
}

/** `tree`: every descendant of the workflows named by `$1` (a text array), for a statement's WITH clause. */
const CHILDREN_OF_FIRST_PARAMETER = `WITH RECURSIVE tree (workflow_uuid) AS (
         SELECT c.workflow_uuid FROM operon.workflow_status c WHERE c.parent_uuid = ANY($1::text[])
         UNION
         SELECT c.workflow_uuid FROM operon.workflow_status c JOIN tree t ON c.parent_uuid = t.workflow_uuid)`;

/**
 * A workflow of the tree that was running may have started a child while the cancel's statement
 * ran: committed after the statement read the tree, the child is not in it. Before the cancel
 * commits, the children of what it changed are walked again (a new statement sees what committed
 * since), until a walk finds no more; they are cancelled and notified the same way, and the
 * audit entry names them too.
 */
async function cancelLateChildren(client: pg.PoolClient, first: pg.QueryResult): Promise<{ rows: any[] }> {
  const row = first.rows[0];
  const all: string[] = [...row.uuids];
  for (let found: string[] = all; found.length > 0; ) {
    const { rows } = await client.query(
      `${CHILDREN_OF_FIRST_PARAMETER},
       changed AS (
         UPDATE operon.workflow_status w SET status = 'CANCELLED', updated_at = $3,
           owner = CASE WHEN w.status = 'ENQUEUED' THEN NULL ELSE w.owner END
         FROM tree WHERE w.workflow_uuid = tree.workflow_uuid AND w.status = ANY($2::text[])
         RETURNING w.workflow_uuid),
       notified AS (
         SELECT count(pg_notify('${NOTIFICATION_CHANNEL}', json_build_array('c', workflow_uuid, NULL)::text)) AS n FROM changed)
       SELECT array(SELECT workflow_uuid FROM changed) AS uuids, (SELECT n FROM notified) AS n`,
      [all, CANCELLABLE, Date.now()],
    );
    found = rows[0].uuids;
    all.push(...found);
  }
  if (all.length > row.uuids.length && row.audit_id !== null) {
    await client.query(`UPDATE operon.audit_log SET workflow_uuids = $2::text[], changed = $3 WHERE audit_id = $1`, [row.audit_id, [...all].sort(), all.length]);
  }
  return { rows: [{ ...row, changed: all.length, uuids: all }] };
}

/** The app database step of a change: which pool, how long it may take, and which change it is (named in its error). */
interface AppStep extends ChangeStep {
  readonly pool: pg.Pool;
}

/**
 * Runs a change's statement on the system database and, before it commits (its rows still
 * locked), `also` on the app database for the workflows it changed (`uuids`). So the app
 * database's marks change in the order the changes commit: a resume of a cancelled workflow,
 * which takes the same row locks, clears a cancel's mark only after the cancel set it. A mark
 * left by a change that then failed to commit does no harm: a run checks the system database
 * before it acts on one.
 *
 * The app step is bounded (see {@link onAppDatabase}): an app database that is down, hangs or
 * holds a lock fails the change, which rolls back, instead of holding the rows without end. So
 * is the system step, up to the moment its rows are locked and changed: within `system.deadlineMs`
 * from asking for a connection (a pool held whole waits no longer), the server ending each of its
 * statements past it (statement_timeout, lock_timeout: a row another transaction holds locked);
 * a server that does not answer is given up on here, its connection destroyed before COMMIT was
 * sent. Either way it throws OperonManagementSystemDatabaseError, having changed nothing. COMMIT
 * itself is not bounded: a deadline passing while it is on its way could not say whether it
 * committed.
 */
async function underRowLocks(
  pool: pg.Pool,
  system: ChangeStep,
  app: AppStep | undefined,
  statement: (client: pg.PoolClient) => Promise<{ rows: any[] }>,
  also: (appClient: pg.PoolClient, uuids: readonly string[]) => Promise<void>,
): Promise<any[]> {
  const deadline = deadlineOf(system.deadlineMs);
  const connecting = pool.connect();
  let client: pg.PoolClient | undefined;
  let rows: any[];
  try {
    client = await Promise.race([connecting, deadline.expired]);
    const locking = client;
    const run = (async () => {
      await locking.query(`BEGIN; SET LOCAL statement_timeout = ${system.deadlineMs}; SET LOCAL lock_timeout = ${system.deadlineMs}`);
      return (await statement(locking)).rows;
    })();
    run.catch(() => undefined);
    rows = await Promise.race([run, deadline.expired]);
  } catch (error) {
    if (client === undefined) connecting.then((late) => late.release(true), () => undefined);
    // Still waiting for an answer: never reused (the server rolls back once it ends the statement or sees the socket gone).
    else if (deadline.passed()) client.release(true);
    else {
      await client.query('ROLLBACK').catch(() => undefined);
      client.release();
    }
    throw systemStepFailure(system, error);
  } finally {
    deadline.clear();
  }
  try {
    const uuids: string[] = rows[0]?.uuids ?? [];
    if (app !== undefined && uuids.length > 0) await onAppDatabase(app, (appClient) => also(appClient, uuids));
    await client.query('COMMIT');
    return rows;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/**
 * Runs `work` in a transaction of its own on the app database, within `deadlineMs` from the
 * moment it asks for a connection. The server ends the transaction's statements itself past the
 * deadline (statement_timeout, lock_timeout); one that does not answer at all (stopped, a stalled
 * network) is given up on here, its connection destroyed before COMMIT was sent, so the server
 * rolls the transaction back whenever it wakes. Either way it throws
 * OperonManagementAppDatabaseError. (Only a deadline that passes while COMMIT is on its way can
 * leave a mark behind, which a run only checks and ignores, as any mark of a change that failed.)
 */
async function onAppDatabase(app: AppStep, work: (client: pg.PoolClient) => Promise<void>): Promise<void> {
  const { deadlineMs } = app;
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`it did not answer within ${deadlineMs} ms`)), deadlineMs);
  });
  expired.catch(() => undefined);
  const connecting = app.pool.connect();
  let client: pg.PoolClient | undefined;
  try {
    client = await Promise.race([connecting, expired]);
    const connected = client;
    const run = (async () => {
      await connected.query(`BEGIN; SET LOCAL statement_timeout = ${deadlineMs}; SET LOCAL lock_timeout = ${deadlineMs}`);
      await work(connected);
      await connected.query('COMMIT');
    })();
    run.catch(() => undefined);
    await Promise.race([run, expired]);
    client.release();
  } catch (error) {
    // A connection left mid-transaction (or still waiting for an answer) is never reused.
    if (client !== undefined) client.release(true);
    else connecting.then((late) => late.release(true), () => undefined);
    // A move found stale is no failure of the app database: it is checked again.
    if (error instanceof StaleMove) throw error;
    const what = 'workflowUUID' in app.target ? `workflow ${app.target.workflowUUID}` : 'the workflows the filter selects';
    const step = app.verb === 'cancel' ? 'marked them cancelled' : "cleared the cancel's marks";
    throw new OperonManagementAppDatabaseError(
      `cannot ${app.verb} ${what}: the app database failed while the ${app.verb} ${step} in its fence table (${(error as Error).message}); nothing was changed in either database: try again once the app database answers`,
      error,
    );
  } finally {
    clearTimeout(timer);
  }
}

/** A resumed workflow of a queue whose deduplication id another waiting or running one now holds. */
function refuseHeldDeduplication(error: unknown): never {
  const pgError = error as { code?: string; constraint?: string; detail?: string };
  if (pgError.code === '23505' && pgError.constraint === 'workflow_status_queue_deduplication') {
    throw new OperonManagementConflictError(`cannot resume: another workflow of the queue holds its deduplication id now (${pgError.detail ?? 'queue_name, queue_deduplication_id'})`);
  }
  throw error;
}

/**
 * Resumes the target (CANCELLED, ERROR or RETRIES_EXCEEDED) and the CANCELLED workflows below it:
 * PENDING again, their outcome cleared and their recovery attempts forgotten, held by a handover
 * instance for adoption (a workflow of a queue: ENQUEUED again, under its queue's limits). Each
 * continues after its last recorded operation.
 *
 * A cancelled workflow whose run has not let go of it yet (its owner is still a live executor:
 * a communicator of that run is still calling out, or a transaction is still committing) is not
 * handed over: a new run would call out again. The resume waits up to `waitMs` for every such run
 * to let go, then changes nothing and answers OperonManagementStillFinishingError. A dead owner
 * (its lease lapsed) counts as let go. A workflow moved to another version is fenced in the app
 * database before the move commits, so not even such a dead owner's transaction commits after
 * its records were counted.
 */
export async function resumeWorkflows(
  pool: pg.Pool,
  target: ChangeTarget,
  author: ChangeAuthor,
  {
    waitMs = RESUME_WAIT_MS,
    moveTo,
    appPool,
    appDeadlineMs = APP_DATABASE_DEADLINE_MS,
    systemDeadlineMs = SYSTEM_DATABASE_DEADLINE_MS,
  }: {
    readonly waitMs?: number;
    /** A version the caller checked the root against: it goes on on that code. */
    readonly moveTo?: CheckedMove;
    /** The app database: the cancel's marks on the resumed workflows' fence rows are cleared. */
    readonly appPool?: pg.Pool;
    /** How long the clearing may take (the tree's system rows stay locked meanwhile). */
    readonly appDeadlineMs?: number;
    /** How long each attempt's reading, locking and changing of the tree's system rows may take. */
    readonly systemDeadlineMs?: number;
  } = {},
): Promise<ChangeResult> {
  checkDeadline('appDeadlineMs', appDeadlineMs);
  checkDeadline('systemDeadlineMs', systemDeadlineMs);
  const system: ChangeStep = { deadlineMs: systemDeadlineMs, verb: 'resume', target };
  if ('workflowUUID' in target) {
    const row = await withinSystemDeadline(system, requireWorkflow(pool, target.workflowUUID));
    if (row.kind !== 'workflow') throw new OperonManagementConflictError(`${row.workflowUUID} is a single ${row.workflowName} operation, not a workflow: it cannot be resumed`);
    if (!RESUMABLE.includes(row.status)) {
      throw new OperonManagementConflictError(`workflow ${row.workflowUUID} is ${row.status}: only a ${RESUMABLE.join(', ')} workflow can be resumed`);
    }
    const missing = await unreadRemovedChild(pool, row.workflowUUID);
    if (missing !== undefined) throw new OperonManagementConflictError(`cannot resume workflow ${row.workflowUUID}: ${missing}`);
  }
  if (moveTo !== undefined && !('workflowUUID' in target && target.workflowUUID === moveTo.workflowUUID)) {
    throw new OperonManagementRequestError('a move to another version resumes the one workflow it was checked for');
  }
  const giveUpAt = Date.now() + waitMs;
  let move = moveTo;
  for (;;) {
    const app = appPool === undefined ? undefined : { pool: appPool, deadlineMs: appDeadlineMs, verb: 'resume' as const, target };
    const attempt = await resumeOnce(pool, system, app, target, author, move);
    if ('stale' in attempt && Date.now() < giveUpAt) {
      // Records the check did not see (the cancelled run's last operation): check those too.
      move = { ...move!, records: await move!.check() };
      continue;
    }
    if (!('finishing' in attempt) && !('stale' in attempt)) return attempt;
    if (Date.now() >= giveUpAt) {
      if ('stale' in attempt) {
        throw new OperonManagementConflictError(`cannot move workflow ${moveTo!.workflowUUID} to version ${moveTo!.version}: it kept gaining records while its move was checked; try again`);
      }
      const { workflowUUID, owner } = attempt.finishing;
      throw new OperonManagementStillFinishingError(
        `cannot resume workflow ${workflowUUID} yet: its previous run (executor instance ${owner}) is still finishing the operation it had in flight when it was cancelled, and a new run would perform it again; try again once that operation has recorded (or once that executor is gone)`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, RESUME_RETRY_MS));
  }
}

/**
 * Every workflow the resume changed (the target, the cancelled ones below it, all a filter
 * selects), checked under their row locks before it commits: one whose run would wait for the
 * result of a removed child refuses the whole resume, which then changes nothing.
 */
async function refuseRemovedChildren(client: pg.PoolClient, target: ChangeTarget, result: { rows: any[] }): Promise<{ rows: any[] }> {
  const blocked = await firstWaitingOnRemovedChild(client, result.rows[0]?.uuids ?? []);
  if (blocked === undefined) return result;
  const what = 'workflowUUID' in target ? `workflow ${target.workflowUUID}` : 'the workflows the filter selects';
  throw new OperonManagementConflictError(
    `cannot resume ${what}: the resume would run workflow ${blocked.workflowUUID}: ${blocked.why}${'workflowUUID' in target ? '' : '; narrow the filter to leave it out'}`,
  );
}

/**
 * A child its cancelled parent's run started while the resume's statement ran (the run had let
 * go of the parent, a child start being no operation it waits for) was recorded CANCELLED by its
 * start, committed after the statement read the tree: it is not in it. Before the resume commits,
 * the children of what it resumed are walked again (a new statement sees what committed since),
 * until a walk finds no more, and resumed the same way; the audit entry names them too. Only
 * those no executor owns are taken: a start records its child so, and one a live run still holds
 * is that run's to let go of first.
 */
async function resumeLateChildren(
  client: pg.PoolClient,
  handover: { readonly id: string; readonly host: string; readonly startedAt: number },
  first: pg.QueryResult,
): Promise<{ rows: any[] }> {
  const row = first.rows[0];
  const all: string[] = [...row.uuids];
  let handedOver: string | null = row.handover;
  for (let found: string[] = all; found.length > 0; ) {
    const { rows } = await client.query(
      `${CHILDREN_OF_FIRST_PARAMETER},
       changed AS (
         UPDATE operon.workflow_status w SET output = NULL, error = NULL, recovery_attempts = 0, updated_at = $3,
           status = CASE WHEN w.queue_name IS NULL THEN 'PENDING' ELSE 'ENQUEUED' END,
           owner = CASE WHEN w.queue_name IS NULL THEN $2::text END,
           owner_epoch = w.owner_epoch + CASE WHEN w.queue_name IS NULL THEN 0 ELSE 1 END
         FROM tree WHERE w.workflow_uuid = tree.workflow_uuid AND w.kind = 'workflow' AND w.status = 'CANCELLED' AND w.owner IS NULL
         RETURNING w.workflow_uuid, w.owner),
       handover AS (
         INSERT INTO operon.executors (instance_id, executor_id, host, host_key, pid, session_tag, started_at, lease_ms, state)
         SELECT $2, 'operon-handover', $4, 'handover', 0, '', $5, 0, 'stopped'
         WHERE EXISTS (SELECT 1 FROM changed WHERE owner IS NOT NULL)
         ON CONFLICT DO NOTHING RETURNING instance_id)
       SELECT array(SELECT workflow_uuid FROM changed) AS uuids, EXISTS (SELECT 1 FROM changed WHERE owner IS NOT NULL) AS handed`,
      [all, handover.id, Date.now(), handover.host, handover.startedAt],
    );
    found = rows[0].uuids;
    all.push(...found);
    if (rows[0].handed) handedOver = handover.id;
  }
  if (all.length > row.uuids.length && row.audit_id !== null) {
    await client.query(`UPDATE operon.audit_log SET workflow_uuids = $2::text[], changed = $3 WHERE audit_id = $1`, [row.audit_id, [...all].sort(), all.length]);
  }
  return { rows: [{ ...row, changed: all.length, uuids: all, handover: handedOver }] };
}

/** A moved workflow committed a transaction its check did not see: the resume is rolled back, to be checked again. */
class StaleMove extends Error {}

/** One resume statement: it changes everything it selects, or (some run still finishing, or a move checked on fewer records than there are now) nothing. */
async function resumeOnce(
  pool: pg.Pool,
  system: ChangeStep,
  app: AppStep | undefined,
  target: ChangeTarget,
  author: ChangeAuthor,
  move: CheckedMove | undefined,
): Promise<ChangeResult | { finishing: { workflowUUID: string; owner: string } } | { stale: true }> {
  const values: unknown[] = [];
  const roots = rootsOf(target, values);
  values.push(move?.workflowUUID ?? null, move?.records.system ?? null);
  const checkedRecords = values.length;
  const stillFinishing = '(EXISTS (SELECT 1 FROM finishing) OR EXISTS (SELECT 1 FROM stale))';
  const moveTo = move?.version;
  const handover = `handover-${randomUUID()}`;
  values.push(handover, hostname(), Date.now());
  const handoverId = values.length - 2;
  values.push(moveTo ?? null);
  const movedTo = values.length;
  values.push(RESUMABLE, Date.now());
  const resumable = values.length - 1;
  // One workflow that another change took first (a simultaneous resume) changed nothing: nothing is recorded.
  const single = 'workflowUUID' in target;
  const audit = auditCte(values, author, single ? 'resume' : 'bulk-resume', moveTo === undefined ? target : { ...target, version: moveTo }, 'changed', single ? `${stillFinishing} OR count(*) = 0` : stillFinishing);
  // A moved workflow's transactions are fenced out before the move commits, and counted behind
  // that fence: one committed in the app database since the check makes the move stale too.
  const alsoInApp = async (appClient: pg.PoolClient, uuids: readonly string[]) => {
    if (move !== undefined && uuids.includes(move.workflowUUID) && (await fenceForMove(appClient, move.workflowUUID, handover)) !== move.records.transactions) {
      throw new StaleMove();
    }
    await clearCancelled(appClient, uuids);
  };
  if (move !== undefined && app === undefined) throw new Error('a move to another version needs the app database, where its transactions are fenced');
  const handedTo = { id: handover, host: values[handoverId] as string, startedAt: values[handoverId + 1] as number };
  const rows = await underRowLocks(pool, system, app, async (client) => refuseRemovedChildren(client, target, await resumeLateChildren(client, handedTo, await client.query(
    `WITH RECURSIVE tree (workflow_uuid, is_root) AS (
       SELECT w.workflow_uuid, true FROM operon.workflow_status w WHERE ${roots}
       UNION
       SELECT c.workflow_uuid, false FROM operon.workflow_status c JOIN tree t ON c.parent_uuid = t.workflow_uuid),
     nodes AS (SELECT workflow_uuid, bool_or(is_root) AS is_root FROM tree GROUP BY workflow_uuid),
     -- Cancelled ones a live executor still owns: its run has a communicator in flight (liveness
     -- by the database's clock, as leases are judged).
     finishing AS (
       SELECT w.workflow_uuid, w.owner FROM operon.workflow_status w JOIN nodes USING (workflow_uuid)
       JOIN operon.executors e ON e.instance_id = w.owner
       WHERE w.kind = 'workflow' AND w.status = 'CANCELLED'
         AND e.state = 'live' AND e.heartbeat_at > now() - e.lease_ms * interval '1 millisecond'
       ORDER BY w.workflow_uuid LIMIT 1),
     -- A move checked on fewer records than the workflow holds now: it changes nothing, to be checked again.
     stale AS (
       SELECT 1 WHERE $${checkedRecords}::int IS NOT NULL
         AND (SELECT count(*) FROM operon.operation_outputs o WHERE o.workflow_uuid = $${checkedRecords - 1}::text) <> $${checkedRecords}::int),
     changed AS (
       -- A workflow of a queue waits for a slot again (ENQUEUED, in its old place), its epoch moved
       -- on so its taker fences its transactions; any other is held for adoption.
       UPDATE operon.workflow_status w SET output = NULL, error = NULL, recovery_attempts = 0, updated_at = $${resumable + 1},
         status = CASE WHEN w.queue_name IS NULL THEN 'PENDING' ELSE 'ENQUEUED' END,
         owner = CASE WHEN w.queue_name IS NULL THEN $${handoverId}::text END,
         owner_epoch = w.owner_epoch + CASE WHEN w.queue_name IS NULL THEN 0 ELSE 1 END,
         -- Moved to other code (checked by the caller): the root only; its children keep their own.
         version = CASE WHEN nodes.is_root AND $${movedTo}::text IS NOT NULL THEN $${movedTo}::text ELSE w.version END
       FROM nodes WHERE w.workflow_uuid = nodes.workflow_uuid AND w.kind = 'workflow'
         AND (w.status = 'CANCELLED' OR (nodes.is_root AND w.status = ANY($${resumable}::text[])))
         AND NOT ${stillFinishing}
       RETURNING w.workflow_uuid, w.owner),
     -- The instance holding them for adoption: written only when some workflow is handed to it.
     handover AS (
       INSERT INTO operon.executors (instance_id, executor_id, host, host_key, pid, session_tag, started_at, lease_ms, state)
       SELECT $${handoverId}, 'operon-handover', $${handoverId + 1}, 'handover', 0, '', $${handoverId + 2}, 0, 'stopped'
       WHERE EXISTS (SELECT 1 FROM changed WHERE owner IS NOT NULL) RETURNING instance_id),
     ${audit}
     SELECT (SELECT count(*) FROM changed) AS changed, array(SELECT workflow_uuid FROM changed) AS uuids, (SELECT audit_id FROM audit) AS audit_id,
       (SELECT instance_id FROM handover) AS handover,
       (SELECT workflow_uuid FROM finishing) AS finishing_uuid, (SELECT owner FROM finishing) AS finishing_owner,
       EXISTS (SELECT 1 FROM stale) AS stale`,
    values,
  ))), alsoInApp).catch((error: unknown) => (error instanceof StaleMove ? undefined : refuseHeldDeduplication(error)));
  if (rows === undefined) return { stale: true };
  const row = rows[0];
  if (row.finishing_uuid === null && row.stale) return { stale: true };
  if (row.finishing_uuid !== null) return { finishing: { workflowUUID: row.finishing_uuid, owner: row.finishing_owner } };
  if (single && Number(row.changed) === 0) {
    // It passed the status check just before: another change (a simultaneous resume) took it first.
    const now = await getManagedWorkflow(pool, target.workflowUUID);
    throw new OperonManagementConflictError(`workflow ${target.workflowUUID} is ${now?.status ?? 'gone'}: another change took it first (a simultaneous resume); this resume changed nothing`);
  }
  return { changed: Number(row.changed), workflowUUIDs: row.uuids, ...(row.handover === null ? {} : { handover: row.handover as string }) };
}

export interface ForkRequest {
  /** Operations before this id return the original's records; this one and later ones run anew. 0 is a restart. */
  readonly fromStep: number;
  /** @default a random UUID */
  readonly workflowUUID?: string;
  /** `latest` or a version's hash: the fork runs on that code (checked by the caller); by default on the original's version. */
  readonly version?: string;
}

/** A fork's move to another version: the fork checks it on the records it copies. */
export interface ForkMove {
  readonly version: string;
  /** Checks the records before the fork's step on that code: the records counted, or throws the divergence. */
  readonly check: () => Promise<CheckedRecords>;
}

/** The largest operation id (a Postgres integer). */
const MAX_OPERATION_ID = 2 ** 31 - 1;

export function parseFork(body: unknown): ForkRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new OperonManagementRequestError('the fork request must be a JSON object { fromStep, workflowUUID? }');
  const { fromStep, workflowUUID, version, ...rest } = body as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) throw new OperonManagementRequestError(`unknown fork field "${unknown[0]}": a fork takes fromStep, workflowUUID and version`);
  if (version !== undefined && typeof version !== 'string') throw new OperonManagementRequestError(`version must be "latest" or a version's hash, got ${JSON.stringify(version)}`);
  // Operation ids are Postgres integers: a larger step would reach the database and fail there.
  if (typeof fromStep !== 'number' || !Number.isSafeInteger(fromStep) || fromStep < 0 || fromStep > MAX_OPERATION_ID) {
    throw new OperonManagementRequestError(`fromStep must be an operation id (an integer from 0 to ${MAX_OPERATION_ID}), got ${JSON.stringify(fromStep)}`);
  }
  return { fromStep, ...(workflowUUID === undefined ? {} : { workflowUUID: checkClientUUID(workflowUUID) }), ...(version === undefined ? {} : { version: version as string }) };
}

/**
 * A new workflow of the same function, inputs and identity as `workflowUUID`, whose operations
 * before `fromStep` return the original's records, held by a handover instance for adoption. A
 * restart is a fork from step 0.
 *
 * The fork reads the original's committed transaction outputs from the app database (writing
 * nothing there), then is one statement on the system database: the new workflow, its copies of
 * the original's system records, and a note holding those outputs (operon.fork_copies and
 * fork_outputs), which the executor that adopts it copies under the new UUID before it runs it:
 * what becomes of the original meanwhile (retention, its own adoption) does not change the fork.
 * So the UUID is the fork's before anything is written under it in either database: a start or
 * another fork into it finds it taken (and one that took it first makes the fork a 409 having
 * written nothing), and a fork cut off anywhere leaves either nothing or a whole fork, whose copy
 * the next adopter makes.
 */
export async function forkWorkflow(
  systemPool: pg.Pool,
  appPool: pg.Pool,
  workflowUUID: string,
  fork: ForkRequest,
  author: ChangeAuthor,
  action: 'fork' | 'restart' = 'fork',
  /** Moves the fork to another version, checked on the records it copies. */
  move?: ForkMove,
): Promise<ChangeResult> {
  const original = await requireWorkflow(systemPool, workflowUUID);
  if (original.kind !== 'workflow') throw new OperonManagementConflictError(`${workflowUUID} is a single ${original.workflowName} operation, not a workflow: it cannot be ${action}ed`);
  const missing = await unreadRemovedChild(systemPool, workflowUUID, fork.fromStep);
  if (missing !== undefined) throw new OperonManagementConflictError(`cannot ${action} workflow ${workflowUUID} from step ${fork.fromStep}: ${missing}`);
  const forked = fork.workflowUUID ?? randomUUID();
  const asked = move === undefined ? fork : { ...fork, version: move.version };
  const request = forkRequest(action, workflowUUID, forked, asked);
  const taken = async () => {
    // The same fork made already (a retry whose first answer was lost) is answered again; anything else under the UUID is a conflict.
    if (await madeAlready(systemPool, request)) return { changed: 0, workflowUUIDs: [forked] };
    throw new OperonWorkflowConflictError(
      forked,
      `workflow UUID ${forked} is taken: a ${action} creates a new workflow, so give it a UUID no workflow has (the very same ${action} again is answered with the workflow it made)`,
    );
  };
  if (await getManagedWorkflow(systemPool, forked)) return taken();
  return (await createFork(systemPool, appPool, workflowUUID, forked, asked, request, author, action, move)) ?? taken();
}

/** What the audit log records of a fork: its original, its step, its version (if moved) and the new UUID. */
function auditedFork(workflowUUID: string, forked: string, fork: ForkRequest) {
  return { fromStep: fork.fromStep, ...(fork.version === undefined ? {} : { version: fork.version }), workflowUUID, forkedUUID: forked };
}

/** The request a fork or restart was, as the new workflow's row keeps it (`fork_request`). */
type MadeBy = ReturnType<typeof auditedFork> & { readonly action: 'fork' | 'restart' };

function forkRequest(action: 'fork' | 'restart', workflowUUID: string, forked: string, fork: ForkRequest): MadeBy {
  return { action, ...auditedFork(workflowUUID, forked, fork) };
}

/**
 * Whether the workflow under the fork's UUID was made by this very request: read from that
 * workflow's own row (by its key), which the fork's statement wrote. A workflow of that UUID made
 * otherwise (a client's start, another request, one started after retention deleted the fork) is not.
 */
async function madeAlready(systemPool: pg.Pool, asked: MadeBy): Promise<boolean> {
  const { rows } = await systemPool.query<{ fork_request: string | null }>(`SELECT fork_request FROM operon.workflow_status WHERE workflow_uuid = $1`, [asked.forkedUUID]);
  const text = rows[0]?.fork_request;
  if (text === undefined || text === null) return false;
  const made = JSON.parse(text) as Partial<MadeBy>;
  return (
    made.action === asked.action &&
    made.workflowUUID === asked.workflowUUID &&
    made.fromStep === asked.fromStep &&
    (made.version ?? null) === (asked.version ?? null)
  );
}

/**
 * The new workflow, its system records and its note of transaction outputs, in one statement; a
 * move is checked on what it copies. Undefined when the UUID was taken meanwhile.
 *
 * The original's transaction outputs are read before a move is checked, so the check sees at
 * least those; a moved fork's statement commits only once they are read again unchanged after it
 * (a running original that committed one before the fork's step since is checked again), so what
 * the fork keeps is exactly what was checked. The fork keeps them whatever becomes of the original.
 */
async function createFork(
  systemPool: pg.Pool,
  appPool: pg.Pool,
  workflowUUID: string,
  forked: string,
  fork: ForkRequest,
  request: MadeBy,
  author: ChangeAuthor,
  action: 'fork' | 'restart',
  move: ForkMove | undefined,
): Promise<ChangeResult | undefined> {
  const outputsNow = () => outputsToFork(systemPool, appPool, workflowUUID, fork.fromStep);
  let outputs = await outputsNow();
  // The original's records run on the original's code, unless the caller checked another version for them.
  let checked = move === undefined ? null : (await move.check()).system;
  for (let attempt = 1; ; attempt++) {
    const values: unknown[] = [forked, workflowUUID, fork.fromStep, Date.now(), fork.version ?? null, checked, JSON.stringify(request)];
    // A running original that recorded before the fork's step since the check: the fork changes nothing, to be checked again.
    const stale = `($6::int IS NOT NULL AND (SELECT count(*) FROM operon.operation_outputs WHERE workflow_uuid = $2 AND function_id < $3) <> $6::int)`;
    const handover = pushHandover(values, stale);
    const audit = auditCte(values, author, action, auditedFork(workflowUUID, forked, fork), 'created', stale);
    values.push(outputs.map((o) => o.functionId), outputs.map((o) => o.functionName), outputs.map((o) => o.output), outputs.map((o) => o.createdAt));
    const taken = values.length - 3;
    const client = await systemPool.connect();
    let rows: any[];
    let outputsChanged = false;
    try {
      if (move !== undefined) await client.query('BEGIN');
      // A start or fork into the same UUID at once waits for this statement's row, then finds it taken.
      ({ rows } = await client.query(
      `WITH ${handover.cte},
       created AS (
         INSERT INTO operon.workflow_status (workflow_uuid, status, workflow_name, kind, executor_id, inputs, authenticated_user,
           authenticated_roles, assumed_role, request, parent_uuid, created_at, updated_at, owner, version, fork_request)
         SELECT $1, 'PENDING', workflow_name, kind, executor_id, inputs, authenticated_user, authenticated_roles, assumed_role, request,
           NULL, $4, $4, (SELECT instance_id FROM handover), coalesce($5::text, version), $7
         FROM operon.workflow_status WHERE workflow_uuid = $2 AND NOT ${stale}
         ON CONFLICT (workflow_uuid) DO NOTHING
         RETURNING workflow_uuid),
       copied AS (
         INSERT INTO operon.operation_outputs (workflow_uuid, function_id, function_name, output, error, created_at, started_at, detail)
         SELECT $1, function_id, function_name, output, error, created_at, started_at, detail FROM operon.operation_outputs
         WHERE workflow_uuid = $2 AND function_id < $3 AND EXISTS (SELECT 1 FROM created)
         RETURNING 1),
       noted AS (
         INSERT INTO operon.fork_copies (workflow_uuid, source_uuid, from_step) SELECT workflow_uuid, NULL, $3 FROM created RETURNING workflow_uuid),
       -- What it reads records of (the original, and what the original reads from): retention keeps their families while it runs.
       sources AS (
         INSERT INTO operon.fork_sources (source_uuid, fork_uuid)
         SELECT $2, workflow_uuid FROM created WHERE $3 > 0
         UNION SELECT s.source_uuid, c.workflow_uuid FROM operon.fork_sources s, created c WHERE s.fork_uuid = $2 AND $3 > 0
         ON CONFLICT DO NOTHING),
       -- The original's transaction outputs as they were read just before, for the adopter to copy.
       kept AS (
         INSERT INTO operon.fork_outputs (workflow_uuid, function_id, function_name, output, created_at)
         SELECT noted.workflow_uuid, o.function_id, o.function_name, o.output, o.created_at FROM noted,
           unnest($${taken}::int[], $${taken + 1}::text[], $${taken + 2}::text[], $${taken + 3}::bigint[]) AS o(function_id, function_name, output, created_at)
         RETURNING 1),
       ${audit}
       SELECT (SELECT count(*) FROM created) AS created, (SELECT count(*) FROM copied) AS copied, (SELECT count(*) FROM noted) AS noted,
         (SELECT audit_id FROM audit) AS audit_id, ${stale} AS stale`,
      values,
      ));
      // Outputs are only ever added: the same number read again is the same outputs.
      outputsChanged = move !== undefined && Number(rows[0].created) > 0 && (await outputsNow()).length !== outputs.length;
      if (move !== undefined) await client.query(outputsChanged ? 'ROLLBACK' : 'COMMIT');
    } catch (error) {
      if (move !== undefined) await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
    if ((rows[0].stale || outputsChanged) && move !== undefined) {
      if (attempt >= 5) throw new OperonManagementConflictError(`cannot fork workflow ${workflowUUID} to version ${move.version}: it kept recording operations before step ${fork.fromStep} while the fork was checked; try again`);
      outputs = await outputsNow();
      checked = (await move.check()).system;
      continue;
    }
    if (Number(rows[0].created) === 0) return undefined;
    return { changed: 1, workflowUUIDs: [forked], handover: handover.id };
  }
}

export interface AuditEntry {
  readonly id: number;
  readonly at: string;
  readonly actor: string;
  readonly action: string;
  readonly request: unknown;
  readonly workflowUUIDs: string[];
  readonly changed: number;
}

/** The audit log, newest first, keyset-paged by entry id. */
export async function auditPage(pool: pg.Pool, limit: number, cursor: string | undefined): Promise<{ entries: AuditEntry[]; nextCursor: string | null }> {
  let before = Number.MAX_SAFE_INTEGER;
  if (cursor !== undefined) {
    before = Number(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (!Number.isSafeInteger(before)) throw new OperonManagementRequestError('cursor is not one this API gave out: pass the nextCursor of the previous page unchanged');
  }
  const { rows } = await pool.query(
    `SELECT audit_id, at, actor, action, request, workflow_uuids, changed FROM operon.audit_log WHERE audit_id < $1 ORDER BY audit_id DESC LIMIT $2`,
    [before, limit + 1],
  );
  const entries = rows.slice(0, limit).map((r) => ({
    id: Number(r.audit_id),
    at: new Date(Number(r.at)).toISOString(),
    actor: r.actor,
    action: r.action,
    request: JSON.parse(r.request),
    workflowUUIDs: r.workflow_uuids,
    changed: r.changed,
  }));
  const last = entries[entries.length - 1];
  return { entries, nextCursor: rows.length > limit && last ? Buffer.from(String(last.id)).toString('base64url') : null };
}
