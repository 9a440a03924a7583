/**
 * The versions table: each bundle an `operon start` served, by its content hash, with its bytes,
 * so any executor can load the code a workflow started on.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { COLUMNS, toRow, type WorkflowRow } from './workflow-status.js';

export interface StoredBundle {
  readonly version: string;
  readonly bundle: Buffer;
  readonly sourceMap: Buffer | null;
}

export interface VersionRow {
  readonly version: string;
  /** Epoch ms. */
  readonly firstSeen: number;
  /** Epoch ms: the last start that served it, or now while a live executor serves it. */
  readonly lastSeen: number;
  readonly pending: number;
  readonly enqueued: number;
  /** Of its PENDING ones, those handed over by an executor that could not load it: they wait for one that can, and run nowhere. */
  readonly waitingForLoad: number;
  /** Executor ids of live executors that have it loaded (serving it, or running a workflow on it). */
  readonly loadedBy: string[];
  /** Executor ids of live executors that serve it as their own code. */
  readonly servedBy: string[];
}

/**
 * Stores a bundle under its version and marks it seen now. The id is the hash of these bytes, so
 * they replace whatever the row holds: a row changed since (which no load accepts) is repaired.
 */
export async function storeVersion(pool: pg.Pool, bundle: StoredBundle): Promise<void> {
  await pool.query(
    `INSERT INTO operon.versions (version, bundle, source_map) VALUES ($1, $2, $3)
     ON CONFLICT (version) DO UPDATE SET last_seen = now(), bundle = EXCLUDED.bundle, source_map = coalesce(EXCLUDED.source_map, operon.versions.source_map)`,
    [bundle.version, bundle.bundle, bundle.sourceMap],
  );
}

export async function loadVersion(pool: pg.Pool, version: string): Promise<StoredBundle | undefined> {
  const { rows } = await pool.query(`SELECT version, bundle, source_map FROM operon.versions WHERE version = $1`, [version]);
  return rows[0] ? { version: rows[0].version, bundle: rows[0].bundle, sourceMap: rows[0].source_map } : undefined;
}

/** Every stored version, newest first seen first, with its open workflows and the live executors that have it loaded. */
export async function listVersions(pool: pg.Pool): Promise<VersionRow[]> {
  const { rows } = await pool.query(
    `WITH live AS (
       SELECT executor_id, version, loaded_versions, heartbeat_at FROM operon.executors
       WHERE state = 'live' AND heartbeat_at > now() - lease_ms * interval '1 millisecond'),
     open AS (
       SELECT version, count(*) FILTER (WHERE status = 'PENDING') AS pending, count(*) FILTER (WHERE status = 'ENQUEUED') AS enqueued,
         count(*) FILTER (WHERE status = 'PENDING' AND owner IN (SELECT instance_id FROM operon.executors WHERE executor_id = $1)) AS waiting
       FROM operon.workflow_status WHERE status IN ('PENDING', 'ENQUEUED') AND version IS NOT NULL GROUP BY version)
     SELECT v.version,
       (extract(epoch FROM v.first_seen) * 1000)::bigint AS first_ms,
       (extract(epoch FROM greatest(v.last_seen, (SELECT max(heartbeat_at) FROM live WHERE live.version = v.version))) * 1000)::bigint AS last_ms,
       coalesce(o.pending, 0) AS pending, coalesce(o.enqueued, 0) AS enqueued, coalesce(o.waiting, 0) AS waiting,
       array(SELECT executor_id FROM live WHERE v.version = ANY(live.loaded_versions) OR live.version = v.version ORDER BY executor_id) AS loaded_by,
       array(SELECT executor_id FROM live WHERE live.version = v.version ORDER BY executor_id) AS served_by
     FROM operon.versions v LEFT JOIN open o ON o.version = v.version
     ORDER BY v.first_seen DESC, v.version`,
    [HANDOVER_EXECUTOR],
  );
  return rows.map((r) => ({
    version: r.version,
    firstSeen: Number(r.first_ms),
    lastSeen: Number(r.last_ms),
    pending: Number(r.pending),
    enqueued: Number(r.enqueued),
    waitingForLoad: Number(r.waiting),
    loadedBy: r.loaded_by,
    servedBy: r.served_by,
  }));
}

/** The executor id of the stopped instances workflows are handed over to. */
export const HANDOVER_EXECUTOR = 'operon-handover';

/**
 * Hands a PENDING workflow this instance claimed but cannot run (its version does not load here)
 * to a new `stopped` instance, so another executor adopts it at its next heartbeat. Fenced on
 * `owner`: a workflow another executor took meanwhile is left alone. True if it was handed over.
 * The hand-over instance names the version it waits for a loader of (what `workflows get` shows)
 * and the host that could not load it.
 */
export async function leaveWorkflow(pool: pg.Pool, workflowUUID: string, owner: string, host: string, version: string): Promise<boolean> {
  const { rowCount } = await pool.query(
    `WITH handover AS (
       INSERT INTO operon.executors (instance_id, executor_id, host, host_key, pid, session_tag, started_at, lease_ms, state, version)
       VALUES ($3, $7, $4, 'handover', 0, '', $5, 0, 'stopped', $6) RETURNING instance_id)
     UPDATE operon.workflow_status SET owner = (SELECT instance_id FROM handover)
     WHERE workflow_uuid = $1 AND owner = $2 AND status = 'PENDING'`,
    [workflowUUID, owner, `handover-${randomUUID()}`, host, Date.now(), version, HANDOVER_EXECUTOR],
  );
  return rowCount === 1;
}

/**
 * One page of the open workflows (PENDING, and ENQUEUED: a resumed one has records), in UUID
 * order after `afterUUID`: what `operon debug --check` replays.
 */
export async function openWorkflows(pool: pg.Pool, afterUUID: string, limit: number): Promise<WorkflowRow[]> {
  const { rows } = await pool.query(
    `SELECT ${COLUMNS} FROM operon.workflow_status
     WHERE status IN ('PENDING', 'ENQUEUED') AND kind = 'workflow' AND workflow_uuid COLLATE "C" > $1
     ORDER BY workflow_uuid COLLATE "C" LIMIT $2`,
    [afterUUID, limit],
  );
  return rows.map(toRow);
}

/** The version deployed last: the one an `operon start` stored most recently. */
export async function latestVersion(pool: pg.Pool): Promise<string | undefined> {
  const { rows } = await pool.query(`SELECT version FROM operon.versions ORDER BY last_seen DESC, first_seen DESC LIMIT 1`);
  return rows[0]?.version;
}

export async function versionExists(pool: pg.Pool, version: string): Promise<boolean> {
  const { rows } = await pool.query(`SELECT 1 FROM operon.versions WHERE version = $1`, [version]);
  return rows.length > 0;
}
