/**
 * How an executor is shown, by `GET /operon/executors` and `operon executors --json` alike: one
 * object per executor registered on the system database.
 */
import type { ExecutorRow } from '../system-db/system-database.js';

export interface ExecutorView {
  readonly executorId: string;
  readonly instanceId: string;
  readonly host: string;
  readonly pid: number;
  /** ISO 8601. */
  readonly startedAt: string;
  /** ISO 8601, by the database's clock. */
  readonly lastHeartbeatAt: string;
  /** 'live', 'stopped' (handed its workflows over) or 'dead'. */
  readonly state: string;
  /** Live and heartbeating within its lease. */
  readonly alive: boolean;
  /** PENDING workflows it holds. */
  readonly workflows: number;
}

export function executorView(row: ExecutorRow): ExecutorView {
  return {
    executorId: row.executorId,
    instanceId: row.instanceId,
    host: row.host,
    pid: row.pid,
    startedAt: new Date(row.startedAt).toISOString(),
    lastHeartbeatAt: new Date(row.heartbeatAt).toISOString(),
    state: row.state,
    alive: row.alive,
    workflows: row.workflows,
  };
}
