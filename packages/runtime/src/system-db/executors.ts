/**
 * The executors table: one row per process start. Registration refuses an executor id a live
 * process holds; the heartbeat is one UPDATE per executor per interval, never one per workflow;
 * lapses are judged by the database's clock.
 */
import type pg from 'pg';
import { SQLSTATE, sqlState } from '../database/sqlstate.js';

export interface ExecutorRegistration {
  readonly instanceId: string;
  readonly executorId: string;
  readonly host: string;
  /** The machine and pid namespace: only a process with the same key can judge the pid. */
  readonly hostKey: string;
  readonly pid: number;
  /** The application_name of its database sessions. */
  readonly sessionTag: string;
  readonly startedAt: number;
  readonly leaseMs: number;
  /** The version (bundle hash) it serves; null without a bundle. */
  readonly version: string | null;
}

/** A registration's state (not to be confused with a runtime's running/stopping/stopped). */
export type RegistrationState = 'live' | 'stopped' | 'dead';

export interface ExecutorRow extends ExecutorRegistration {
  readonly state: RegistrationState;
  /** Epoch ms of the last heartbeat, by the database's clock. */
  readonly heartbeatAt: number;
  /** Live, and its lease has not lapsed. */
  readonly alive: boolean;
  /** PENDING workflows it owns. */
  readonly workflows: number;
  /** Every version it had loaded at its last heartbeat. */
  readonly loadedVersions: string[];
}

const COLUMNS = `e.instance_id, e.executor_id, e.host, e.host_key, e.pid, e.session_tag, e.started_at, e.lease_ms, e.state, e.version, e.loaded_versions,
  (extract(epoch FROM e.heartbeat_at) * 1000)::bigint AS heartbeat_ms,
  (e.state = 'live' AND e.heartbeat_at > now() - e.lease_ms * interval '1 millisecond') AS alive`;

function toRow(r: Record<string, any>, workflows = 0): ExecutorRow {
  return {
    instanceId: r.instance_id,
    executorId: r.executor_id,
    host: r.host,
    hostKey: r.host_key,
    pid: r.pid,
    sessionTag: r.session_tag,
    startedAt: Number(r.started_at),
    leaseMs: r.lease_ms,
    version: r.version ?? null,
    loadedVersions: r.loaded_versions ?? [],
    state: r.state,
    heartbeatAt: Number(r.heartbeat_ms),
    alive: r.alive === true,
    workflows: Number(r.workflows ?? workflows),
  };
}

/** What an UPDATE declaring executors dead returns for endPausedTransactions: each one's session tag and the instant its lease lapses. */
const DECLARED_DEAD = "session_tag, heartbeat_at + lease_ms * interval '1 millisecond' AS lapsed_at";

/**
 * Ends the transactions a paused process may hold open among executors just declared dead
 * (`source`: rows of DECLARED_DEAD), so that their adopter never waits on those locks. Only
 * transactions begun before the lease lapsed qualify, and only for a lease that has lapsed: a
 * session's application_name alone proves nothing. Behind a transaction-mode pooler, a server
 * session keeps the last client's name while idle, and while the pooler sends the next client's
 * `SET application_name`; an executor replaced within its lease (by a start in the same process)
 * is running, and one whose process is gone has its sessions closed with its sockets.
 */
function endPausedTransactions(source: string): string {
  return `SELECT count(pg_terminate_backend(a.pid)) AS sessions FROM pg_stat_activity a JOIN ${source} d ON a.application_name = d.session_tag
     WHERE a.pid <> pg_backend_pid() AND d.lapsed_at <= now() AND a.xact_start < d.lapsed_at
       -- Best effort: a session of a role this one may not signal is left (the call would raise
       -- and fail the whole statement, a heartbeat with it).
       AND pg_has_role(a.usesysid, 'MEMBER')`;
}

/** Registers a new instance; if a live one holds the executor id, gives that holder instead. */
export async function registerExecutor(pool: pg.Pool, reg: ExecutorRegistration): Promise<{ holder?: ExecutorRow }> {
  try {
    await pool.query(
      `INSERT INTO operon.executors (instance_id, executor_id, host, host_key, pid, session_tag, started_at, lease_ms, state, version, loaded_versions)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'live', $9, $10)`,
      [reg.instanceId, reg.executorId, reg.host, reg.hostKey, reg.pid, reg.sessionTag, reg.startedAt, reg.leaseMs, reg.version, reg.version === null ? [] : [reg.version]],
    );
    return {};
  } catch (error) {
    if (sqlState(error) !== SQLSTATE.UNIQUE_VIOLATION) throw error;
    const { rows } = await pool.query(`SELECT ${COLUMNS} FROM operon.executors e WHERE e.executor_id = $1 AND e.state = 'live'`, [reg.executorId]);
    // Gone between the INSERT and the look: the caller tries again.
    return rows[0] ? { holder: toRow(rows[0]) } : registerExecutor(pool, reg);
  }
}

export interface HeartbeatResult {
  /** The database's clock when it ran the heartbeat, epoch ms. */
  readonly databaseNowMs: number;
  /** False when this instance is no longer live: another executor took its workflows (it is fenced). */
  readonly alive: boolean;
  /** Instances that are not live and still own PENDING workflows: the work to adopt. */
  readonly toAdopt: string[];
}

/**
 * One statement per interval: this instance's heartbeat; declaring dead the live executors whose
 * lease lapsed and those named in `gone` (instances of this host whose process no longer exists);
 * and listing the instances whose PENDING workflows wait for an adopter. It also records the
 * versions this instance has loaded (for `operon versions`), in the same statement.
 */
export async function heartbeat(pool: pg.Pool, instanceId: string, gone: readonly string[], loadedVersions: readonly string[]): Promise<HeartbeatResult> {
  const { rows } = await pool.query<{ alive: boolean; to_adopt: string[]; database_now_ms: string }>({
    name: 'operon_heartbeat',
    text: `WITH beat AS (
         UPDATE operon.executors SET heartbeat_at = now(), loaded_versions = $3 WHERE instance_id = $1 AND state = 'live' RETURNING 1),
       lapsed AS (
         UPDATE operon.executors SET state = 'dead'
         WHERE state = 'live' AND instance_id <> $1
           AND (heartbeat_at < now() - lease_ms * interval '1 millisecond' OR instance_id = ANY($2::text[]))
         RETURNING instance_id, ${DECLARED_DEAD}),
       ended AS (${endPausedTransactions('lapsed')})
       SELECT EXISTS (SELECT 1 FROM beat) AS alive, (SELECT sessions FROM ended) AS ended_sessions,
         (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS database_now_ms,
         array(SELECT e.instance_id FROM operon.executors e
               WHERE (e.state <> 'live' OR e.instance_id IN (SELECT instance_id FROM lapsed))
                 AND EXISTS (SELECT 1 FROM operon.workflow_status w WHERE w.owner = e.instance_id AND w.status = 'PENDING')) AS to_adopt`,
    values: [instanceId, gone, loadedVersions],
  });
  return { alive: rows[0]!.alive, toAdopt: rows[0]!.to_adopt, databaseNowMs: Number(rows[0]!.database_now_ms) };
}

/** The database's clock, epoch ms: a reading for a DatabaseClock that has none it can trust yet. */
export async function readDatabaseClock(pool: pg.Pool): Promise<{ databaseNowMs: number }> {
  const { rows } = await pool.query<{ database_now_ms: string }>('SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS database_now_ms');
  return { databaseNowMs: Number(rows[0]!.database_now_ms) };
}

/** Live instances with this host key other than `self`: the caller checks whether their processes still exist. */
export async function liveInstancesOnHost(pool: pg.Pool, hostKey: string, self: string): Promise<ExecutorRow[]> {
  const { rows } = await pool.query(`SELECT ${COLUMNS} FROM operon.executors e WHERE e.host_key = $1 AND e.state = 'live' AND e.instance_id <> $2`, [hostKey, self]);
  return rows.map((r) => toRow(r));
}

/**
 * Marks instances as stopped (a graceful stop hands their workflows over) or dead. Declared dead
 * after its lease lapsed, an instance's open transactions are ended too: a paused process must not
 * keep locks that its adopter (or its own restart) would wait on.
 */
export async function setExecutorState(pool: pg.Pool, instanceIds: readonly string[], state: 'stopped' | 'dead'): Promise<void> {
  await pool.query(
    `WITH marked AS (
       UPDATE operon.executors SET state = $2 WHERE instance_id = ANY($1::text[]) AND state = 'live' RETURNING ${DECLARED_DEAD})
     ${endPausedTransactions('marked')} AND $2 = 'dead'`,
    [instanceIds, state],
  );
}

/**
 * Forgets instances that have not been live for an hour and own no PENDING workflow: the table
 * stays the size of the recent fleet, and a recent death stays visible to operators.
 */
export async function pruneExecutors(pool: pg.Pool): Promise<void> {
  await pool.query(
    `DELETE FROM operon.executors e WHERE e.state <> 'live' AND e.heartbeat_at < now() - interval '1 hour'
       AND NOT EXISTS (SELECT 1 FROM operon.workflow_status w WHERE w.owner = e.instance_id AND w.status = 'PENDING')`,
  );
}

/** Every executor with how many PENDING workflows it owns, live ones first. */
export async function listExecutors(pool: pg.Pool): Promise<ExecutorRow[]> {
  const { rows } = await pool.query(
    `SELECT ${COLUMNS}, (SELECT count(*) FROM operon.workflow_status w WHERE w.owner = e.instance_id AND w.status = 'PENDING') AS workflows
     FROM operon.executors e ORDER BY (e.state = 'live') DESC, e.started_at DESC`,
  );
  return rows.map((r) => toRow(r));
}
