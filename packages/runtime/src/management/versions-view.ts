/**
 * How a version is shown, by `GET /operon/versions` and `operon versions --json` alike: one object
 * per bundle an `operon start` stored, with its open workflows and the live executors that have it.
 */
import type { VersionRow } from '../system-db/system-database.js';

export interface VersionView {
  /** The first 16 hex digits of the bundle's SHA-256. */
  readonly version: string;
  /** ISO 8601: the first start that served it. */
  readonly firstSeen: string;
  /** ISO 8601: the last start that served it, or the last heartbeat of a live executor serving it. */
  readonly lastSeen: string;
  /** Its workflows by status: PENDING (running or to be recovered) and ENQUEUED (waiting in a queue). */
  readonly counts: { readonly PENDING: number; readonly ENQUEUED: number };
  /**
   * Of its PENDING workflows, those waiting for an executor that can load it: handed over by one
   * that could not (its log says why), they run nowhere. Its queued ones wait ENQUEUED instead.
   */
  readonly waitingForLoad: number;
  /** Live executors that have it loaded: serving it, or running a workflow of it beside their own code. */
  readonly loadedBy: readonly string[];
  /** Live executors that serve it as their own code. */
  readonly servedBy: readonly string[];
}

export function versionView(row: VersionRow): VersionView {
  return {
    version: row.version,
    firstSeen: new Date(row.firstSeen).toISOString(),
    lastSeen: new Date(row.lastSeen).toISOString(),
    counts: { PENDING: row.pending, ENQUEUED: row.enqueued },
    waitingForLoad: row.waitingForLoad,
    loadedBy: row.loadedBy,
    servedBy: row.servedBy,
  };
}
