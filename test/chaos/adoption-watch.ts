/**
 * Adoption time, read from the system database: when the harness kills, pauses or stops a
 * runtime, it notes which executor instance that process was and how many PENDING workflows it
 * owned; the watcher then polls the executors table until no PENDING workflow is owned by that
 * instance any more (another executor, or the restarted process, took each one over). The time
 * from the fault to that poll is the event's adoption time, to within one poll interval. A fault
 * that hit a runtime owning nothing, and that owned nothing right after either, adopts nothing and
 * is not measured.
 */
import type pg from 'pg';
import { SYSTEM_DATABASE } from './app-folder.js';
import type { PostgresServer } from './postgres-server.js';
import type { Timeline } from './timeline.js';

const POLL_MS = 200;

interface ExecutorPoll {
  readonly instanceId: string;
  readonly pid: number;
  readonly state: string;
  readonly pending: number;
}

/** What the harness learns just before a fault. */
export interface DeathNote {
  readonly runtime: string;
  readonly kind: string;
  readonly pid: number;
  /** Undefined when the system database could not say (it was down). */
  readonly instanceId: string | undefined;
  readonly pendingBefore: number;
}

interface OpenEvent extends DeathNote {
  readonly atMs: number;
  sawPending: boolean;
}

export interface AdoptionEvent {
  readonly runtime: string;
  readonly kind: string;
  readonly instanceId: string;
  /** PENDING workflows the instance owned at the fault (or, if more, at the first poll after it). */
  readonly workflows: number;
  readonly adoptionMs: number;
}

export class AdoptionWatch {
  readonly events: AdoptionEvent[] = [];
  /** Faults whose instance the system database could not name (it was down at the time). */
  unmeasured = 0;
  private open: OpenEvent[] = [];
  private latest = new Map<number, ExecutorPoll>();
  private client: pg.Client | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private polling: Promise<void> = Promise.resolve();

  constructor(
    private readonly postgres: PostgresServer,
    private readonly timeline: Timeline,
  ) {}

  start(): void {
    const tick = (): void => {
      if (this.stopped) return;
      this.polling = this.poll().finally(() => {
        this.timer = setTimeout(tick, POLL_MS);
      });
    };
    tick();
  }

  /** Before a fault: which instance the process `pid` is, and how many workflows it owns. */
  async note(runtime: string, kind: string, pid: number | undefined): Promise<DeathNote> {
    const fresh = await this.read().catch(() => undefined);
    if (fresh) this.remember(fresh);
    const row = pid === undefined ? undefined : this.latest.get(pid);
    return { runtime, kind, pid: pid ?? -1, instanceId: row?.state === 'live' ? row.instanceId : undefined, pendingBefore: row?.pending ?? 0 };
  }

  /** The fault happened now: watch until the instance owns no PENDING workflow. */
  died(note: DeathNote): void {
    if (note.instanceId === undefined) {
      this.unmeasured++;
      return;
    }
    this.open.push({ ...note, atMs: this.timeline.now(), sawPending: note.pendingBefore > 0 });
  }

  /** Faults whose workflows were still owned by the dead instance when the watch ended. */
  get stranded(): readonly DeathNote[] {
    return this.open.filter((e) => e.sawPending);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.polling;
    // One last look, so an adoption finished in the last interval is not reported as stranded.
    await this.poll();
    clearTimeout(this.timer);
    await this.client?.end().catch(() => undefined);
    this.client = undefined;
  }

  private async poll(): Promise<void> {
    const rows = await this.read().catch(() => undefined);
    if (!rows) return;
    const at = this.timeline.now();
    this.remember(rows);
    const byInstance = new Map(rows.map((r) => [r.instanceId, r]));
    this.open = this.open.filter((event) => {
      // A pruned row owns nothing any more.
      const pending = byInstance.get(event.instanceId!)?.pending ?? 0;
      if (pending > 0) {
        event.sawPending = true;
        return true;
      }
      if (event.sawPending) {
        this.events.push({ runtime: event.runtime, kind: event.kind, instanceId: event.instanceId!, workflows: event.pendingBefore, adoptionMs: at - event.atMs });
      }
      return false;
    });
  }

  private remember(rows: readonly ExecutorPoll[]): void {
    this.latest = new Map(rows.filter((r) => r.state === 'live').map((r) => [r.pid, r]));
  }

  private async read(): Promise<ExecutorPoll[]> {
    try {
      if (!this.client) {
        const client = await this.postgres.connect(SYSTEM_DATABASE);
        // A stall fault locks workflow_status for seconds: a poll gives up instead of holding a fault back.
        await client.query("SET statement_timeout = '1000ms'");
        this.client = client;
      }
      const { rows } = await this.client.query<{ instance_id: string; pid: number; state: string; pending: number }>(
        `SELECT e.instance_id, e.pid, e.state,
           (SELECT count(*) FROM operon.workflow_status w WHERE w.owner = e.instance_id AND w.status = 'PENDING')::int AS pending
         FROM operon.executors e`,
      );
      return rows.map((r) => ({ instanceId: r.instance_id, pid: r.pid, state: r.state, pending: r.pending }));
    } catch (error) {
      // Postgres is restarting, or the session was terminated: a new one at the next poll.
      const client = this.client;
      this.client = undefined;
      await client?.end().catch(() => undefined);
      throw error;
    }
  }
}
