/**
 * This process's registration as an executor, its heartbeat, and the lease that fences it.
 *
 * Each start registers a new instance (its id is the fencing token every write for a workflow is
 * checked against) under an executor id that is unique among live executors: an explicit
 * `OPERON_EXECUTOR_ID` a live process holds is refused; a generated one is new. One statement per
 * heartbeat interval renews the lease, declares dead the executors whose lease lapsed (judged by
 * the database's clock) and lists those whose workflows wait for an adopter.
 *
 * The lease is also checked locally, on a monotonic clock that keeps counting while the process
 * is paused: a process that was stopped past its lease confirms it with the database before it
 * runs anything more, and learns there that it was fenced.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { OperonError } from '@operon/sdk';
import type { ExecutorRow, SystemDatabase } from '../system-db/system-database.js';
import type { DatabaseClock } from './database-clock.js';

/** How often an executor heartbeats, and how long its lease lasts without one, unless configured. */
export const HEARTBEAT_INTERVAL_MS = 2_000;
export const LEASE_MS = 6_000;

/** This executor's lease (`runtimeConfig.leaseMs`) and heartbeat interval, at most a third of it. */
export interface LeaseTiming {
  readonly leaseMs: number;
  readonly heartbeatIntervalMs: number;
}
export const DEFAULT_LEASE_TIMING: LeaseTiming = { leaseMs: LEASE_MS, heartbeatIntervalMs: HEARTBEAT_INTERVAL_MS };

/** A heartbeat's answer confirms the lease only if it leaves this long (a sixth of it; 1 s by default) before the lease could lapse. */
const lateAnswerMarginMs = (leaseMs: number): number => leaseMs / 6;
/** A heartbeat answered this long after it was sent no longer confirms the lease: the others may adopt before the step that asked begins. */
const lateAnswerMs = (leaseMs: number): number => leaseMs - lateAnswerMarginMs(leaseMs);
/** How many times a start sends its first heartbeat before it fails. */
const FIRST_BEAT_ATTEMPTS = 3;
/**
 * A heartbeat unanswered this long is given up (its connection dropped) and the next one is sent
 * at once on a new connection. It is what is left of the late-answer limit after one interval: a
 * beat sent an interval after the last one renewed the lease and given up here still leaves the
 * margin for that retry to renew it before it lapses (a connection that stalls without closing
 * must not cost the lease while the database takes new ones).
 */
export const heartbeatTimeoutMs = (timing: LeaseTiming): number => lateAnswerMs(timing.leaseMs) - timing.heartbeatIntervalMs;

/** A live executor holds the executor id this process was told to use. */
export class OperonExecutorIdTakenError extends OperonError {
  static override readonly CODE = 'OPERON_ERR_EXECUTOR_ID_TAKEN';
  constructor(readonly holder: ExecutorRow) {
    super(
      `executor id ${holder.executorId} is held by a live executor (pid ${holder.pid} on ${holder.host}, ` +
        `heartbeat ${Math.max(0, Math.round((Date.now() - holder.heartbeatAt) / 1000))} s ago); ` +
        'give this process another OPERON_EXECUTOR_ID, or leave it unset for a generated one',
    );
  }
}

/** Whether a process of this host is still running (a pid that is gone, or a zombie, is not). */
function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * What a pid is relative to: this boot of this machine and this pid namespace. Two containers
 * that share a host name (`--network host`) each have pid namespaces of their own, and must never
 * judge each other's pids.
 */
function hostKeyOf(host: string): string {
  const read = (get: () => string) => {
    try {
      return get().trim();
    } catch {
      return '';
    }
  };
  const boot = read(() => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8'));
  const pidNamespace = read(() => readlinkSync('/proc/self/ns/pid'));
  // Without either (not Linux), no pid is judged: another executor's death is known by its lease only.
  if (!boot || !pidNamespace) return `unjudged:${randomUUID()}`;
  return createHash('sha256').update(`${host}\n${boot}\n${pidNamespace}`).digest('hex').slice(0, 32);
}

/** What a lease check found: still held, lost to another executor, or not known (the database is away). */
export type LeaseVerdict = 'held' | 'lost' | 'unknown';

export interface LeaseEvents {
  /** Instances whose PENDING workflows wait for an adopter. */
  adopt(instances: string[]): void;
  /** This instance lost its lease: another executor may own its workflows now. */
  fenced(): void;
  /** The versions this process has loaded, written with each heartbeat. */
  loadedVersions?(): readonly string[];
}

export class ExecutorLease {
  readonly host = hostname();
  private readonly hostKey = hostKeyOf(this.host);
  private instance: string = randomUUID();
  private executor: string;
  private confirmedAt = -Infinity;
  /** When the last heartbeat was sent: the next is due an interval later. */
  private lastSentAt = -Infinity;
  private timer: NodeJS.Timeout | undefined;
  private confirming: Promise<LeaseVerdict> | undefined;
  private stopped = false;
  private registered = false;
  /** Set while the instance is being replaced (replaceInstance): heartbeats wait for it. */
  private replacing: Promise<void> | undefined;

  constructor(
    private readonly systemDb: SystemDatabase,
    private readonly logger: Logger,
    /** OPERON_EXECUTOR_ID; undefined to generate one. */
    private readonly explicitId: string | undefined,
    /** The application_name of this runtime's sessions, ended by whoever declares it dead. */
    private readonly sessionTag: string,
    /** Set from every heartbeat: the database's clock. */
    private readonly clock: DatabaseClock,
    private readonly events: LeaseEvents,
    /** The version (bundle hash) this process serves; null without a bundle. */
    private readonly version: string | null = null,
    private readonly timing: LeaseTiming = DEFAULT_LEASE_TIMING,
  ) {
    this.executor = explicitId ?? generatedId(this.host);
  }

  /** This start's instance id: the owner written with every workflow it runs. */
  get instanceId(): string {
    return this.instance;
  }

  get executorId(): string {
    return this.executor;
  }

  /**
   * Registers this instance. A live holder of the same explicit id is refused, unless it is gone:
   * its process no longer exists on this host (or is this very process, replaced), or its lease
   * lapsed. Resolves with the instances whose work to take over at once.
   */
  async register(renewing = false): Promise<void> {
    const sentAt = performance.now();
    for (;;) {
      const { holder } = await this.systemDb.registerExecutor({
        instanceId: this.instance,
        executorId: this.executor,
        host: this.host,
        hostKey: this.hostKey,
        pid: process.pid,
        sessionTag: this.sessionTag,
        startedAt: Date.now(),
        leaseMs: this.timing.leaseMs,
        version: this.version,
      });
      if (!holder) break;
      // A live holder in this very process is the one that replaced this instance when it is a
      // renewal after being fenced: declaring it dead would take the workflows back and fence it
      // in turn, and the two would go on fencing each other.
      const replaced = holder.pid === process.pid && !renewing;
      const gone = !holder.alive || (holder.hostKey === this.hostKey && (replaced || !processExists(holder.pid)));
      if (gone) {
        await this.systemDb.setExecutorState([holder.instanceId], 'dead');
        continue;
      }
      if (this.explicitId !== undefined) throw new OperonExecutorIdTakenError(holder);
      this.executor = generatedId(this.host);
    }
    this.registered = true;
    this.confirmedAt = sentAt;
  }

  /**
   * The first beat, then one every interval. Resolves with the instances whose work to take over
   * now: dead ones, this host's whose process is gone (a restart's predecessor) among them.
   */
  async start(): Promise<string[]> {
    const gone = await this.goneOnThisHost();
    // Registration just reached the database: a first beat given up (a slow new connection, a
    // stalled one) is tried again on a new connection before the start fails.
    for (let attempt = 1; ; attempt++) {
      const sentAt = performance.now();
      this.lastSentAt = sentAt;
      try {
        const result = await this.clock.read(() => this.systemDb.heartbeat(this.instance, gone, this.events.loadedVersions?.() ?? []));
        if (result.alive) this.confirmedAt = sentAt;
        this.schedule();
        return result.toAdopt;
      } catch (error) {
        if (attempt >= FIRST_BEAT_ATTEMPTS) throw error;
        this.logger.warn({ err: error, executorId: this.executor }, 'first executor heartbeat failed; trying again');
      }
    }
  }

  /** True while `owner` is this instance and its lease was confirmed recently enough that no other executor can have taken it. */
  holds(owner: string): boolean {
    return owner === this.instance && performance.now() - this.confirmedAt < this.timing.leaseMs - this.timing.heartbeatIntervalMs;
  }

  /**
   * Asks the database (one beat shared by every caller) whether `owner` still holds its lease:
   * 'unknown' while the database does not answer, which is no reason to give anything up.
   */
  async confirm(owner: string): Promise<LeaseVerdict> {
    if (owner !== this.instance) return 'lost';
    this.confirming ??= this.beat().finally(() => (this.confirming = undefined));
    const verdict = await this.confirming;
    return verdict === 'held' && owner !== this.instance ? 'lost' : verdict;
  }

  /** After being fenced: a new instance under the same executor id, owning nothing yet. */
  async renew(): Promise<void> {
    this.instance = randomUUID();
    await this.register(true);
  }

  /**
   * Goes on as a new instance (the testing runtime's reset): `work` moves the executor's row from
   * the previous instance id to the next, while no heartbeat runs (one would find its row gone and
   * take itself for fenced). Every write of the previous instance's workflows is fenced from then on.
   */
  async replaceInstance(work: (previous: string, next: string) => Promise<void>): Promise<void> {
    const next = randomUUID();
    let done!: () => void;
    this.replacing = new Promise<void>((resolve) => (done = resolve));
    try {
      await this.confirming?.catch(() => undefined);
      const sentAt = performance.now();
      await work(this.instance, next);
      this.instance = next;
      this.confirmedAt = sentAt;
    } finally {
      this.replacing = undefined;
      done();
    }
  }

  /** Stops heartbeating and marks this instance stopped: another executor takes over its workflows at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.registered) await this.systemDb.setExecutorState([this.instance], 'stopped');
  }

  /** Stops heartbeating and writes nothing: the instance is left to lapse, as a killed process's would. */
  halt(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.stopped) return;
    // Counted from the last beat's sending: one given up after its time limit is followed at once.
    const delay = Math.max(0, this.lastSentAt + this.timing.heartbeatIntervalMs - performance.now());
    this.timer = setTimeout(() => void this.confirm(this.instance).finally(() => this.schedule()), delay);
    // The heartbeat serves running work; it must not be what keeps a finished process alive.
    this.timer.unref();
  }

  private async beat(): Promise<LeaseVerdict> {
    while (this.replacing) await this.replacing;
    // The database dates the heartbeat when it runs it, no earlier than now: the lease is counted
    // from the sending, so an answer that comes back late never stretches it.
    const sentAt = performance.now();
    this.lastSentAt = sentAt;
    try {
      const result = await this.clock.read(() => this.systemDb.heartbeat(this.instance, [], this.events.loadedVersions?.() ?? []));
      if (!result.alive) {
        if (!this.stopped) this.events.fenced();
        return 'lost';
      }
      this.confirmedAt = Math.max(this.confirmedAt, sentAt);
      if (result.toAdopt.length > 0) this.events.adopt(result.toAdopt);
      // An answer read when the lease is about to lapse at the database, or has (held in a paused
      // process, a stalled network), says nothing about now: the others may adopt or have adopted
      // before the step that asked begins its operation. Ask again.
      if (performance.now() - sentAt >= lateAnswerMs(this.timing.leaseMs)) return 'unknown';
      return 'held';
    } catch (error) {
      // The database is away: the others cannot adopt through it either; whether the lease holds
      // is known once it answers.
      this.logger.warn({ err: error, executorId: this.executor }, 'executor heartbeat failed; trying again at the next interval');
      return 'unknown';
    }
  }

  /** Live instances of this host whose process is gone: dead without waiting for their lease. */
  private async goneOnThisHost(): Promise<string[]> {
    const live = await this.systemDb.liveInstancesOnHost(this.hostKey, this.instance);
    return live.filter((row) => row.pid !== process.pid && !processExists(row.pid)).map((row) => row.instanceId);
  }
}

function generatedId(host: string): string {
  return `${host.slice(0, 60)}-${randomBytes(4).toString('hex')}`;
}
