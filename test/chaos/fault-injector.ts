/**
 * Faults on seeded schedules while the load runs. Two schedules of one-at-a-time faults, each a
 * gap and then the next fault from a shuffled bag of its kinds (so a short run still meets each
 * kind), until the load ends. The runtimes' faults hit one runtime chosen at random among those
 * serving, never the last one serving:
 *
 *   sigkill           a runtime is killed with SIGKILL and started again at once (now and then
 *                     killed a second time while it recovers): the restarted process adopts its
 *                     predecessor's workflows before it serves
 *   sigkillStaysDown  a runtime is killed with SIGKILL and stays down past the executor lease:
 *                     the other runtimes adopt its workflows; then it is started again
 *   sigstop           a runtime is paused with SIGSTOP past the lease, the others adopt its
 *                     workflows, and it is continued with SIGCONT: it must find out it was fenced
 *                     and write nothing more for them
 *   sigterm           a runtime is stopped with SIGTERM (it hands its workflows over) and started again
 *
 * The database's faults:
 *
 *   pgRestart         Postgres is stopped (fast or immediate shutdown) under the running app, then started
 *   terminateBackend  pg_terminate_backend on every session of the app's two databases
 *   stall             a session holds ACCESS EXCLUSIVE on one of Operon's tables for seconds
 *
 * Beside them, on a schedule of their own (they break one connection, not the database):
 *
 *   commitLost        the proxy between the app and Postgres lets a COMMIT through, drops the
 *                     server's answer and cuts that connection: the work is durable, the app
 *                     cannot know. Usually the COMMIT of a record that carries the ledger's
 *                     mark (a debit's transaction, a charge's output record), else any COMMIT.
 *
 * The long runtime faults (sigkillStaysDown, sigstop) go on in the background while the schedule
 * goes on, so two runtimes may be down at once; the adoption watch times every one of them.
 */
import type { AdoptionWatch } from './adoption-watch.js';
import type { AppServer } from './app-server.js';
import { APP_DATABASE, SYSTEM_DATABASE } from './app-folder.js';
import { COMMIT_CUT_MARK } from './app/src/commit-cut-mark.js';
import type { PostgresProxy } from './postgres-proxy.js';
import type { RuntimeFleet } from './runtime-fleet.js';
import { HARNESS_APPLICATION_NAME, type PostgresServer } from './postgres-server.js';
import type { SeededRandom } from './seeded-random.js';
import type { Timeline } from './timeline.js';

export const FAULT_KINDS = ['sigkill', 'sigkillStaysDown', 'sigstop', 'sigterm', 'pgRestart', 'terminateBackend', 'stall', 'commitLost'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];
const RUNTIME_KINDS = ['sigkill', 'sigkillStaysDown', 'sigstop', 'sigterm'] as const;
type RuntimeFaultKind = (typeof RUNTIME_KINDS)[number];
const DATABASE_KINDS = ['pgRestart', 'terminateBackend', 'stall'] as const;
/** The runtimes' executor lease (packages/runtime/src/executor/executor-lease.ts): a pause or a stay down lasts longer. */
export const LEASE_MS = 6_000;
/** How long past the lease a paused or killed runtime stays away: long enough for the others to notice at a heartbeat (every 2 s). */
const PAST_LEASE_MS: readonly [number, number] = [3_000, 5_000];
/** How long an armed commit cut waits for a matching COMMIT before it is withdrawn. */
const COMMIT_CUT_WAIT_MS = 8_000;

const STALL_TARGETS: readonly { database: string; table: string }[] = [
  { database: SYSTEM_DATABASE, table: 'operon.workflow_status' },
  { database: SYSTEM_DATABASE, table: 'operon.operation_outputs' },
  { database: SYSTEM_DATABASE, table: 'operon.notifications' },
  { database: APP_DATABASE, table: 'operon.transaction_outputs' },
];

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class FaultInjector {
  /** Faults injected; for commitLost, the cuts made (an armed cut no COMMIT matched is not counted). */
  readonly counts: Record<FaultKind, number> = {
    sigkill: 0,
    sigkillStaysDown: 0,
    sigstop: 0,
    sigterm: 0,
    pgRestart: 0,
    terminateBackend: 0,
    stall: 0,
    commitLost: 0,
  };
  /** Commit cuts armed, made or not. */
  commitCutsArmed = 0;
  /** What went wrong with a fault itself (a SIGTERM that did not end the process cleanly). */
  readonly problems: string[] = [];
  private databaseBag: (typeof DATABASE_KINDS)[number][] = [];
  private runtimeBag: RuntimeFaultKind[] = [];
  private readonly cutRng: SeededRandom;
  private readonly runtimeRng: SeededRandom;
  /** Runtimes under a fault right now (the long ones run in the background). */
  private readonly faulted = new Set<AppServer>();
  private readonly background = new Set<Promise<void>>();

  constructor(
    private readonly rng: SeededRandom,
    private readonly timeline: Timeline,
    private readonly fleet: RuntimeFleet,
    private readonly postgres: PostgresServer,
    private readonly proxy: PostgresProxy,
    private readonly watch: AdoptionWatch,
  ) {
    this.cutRng = rng.fork('commit-cuts');
    this.runtimeRng = rng.fork('runtimes');
  }

  /**
   * Injects faults until `untilMs` (timeline time); a fault under way when it comes is finished.
   * Gaps shrink with short runs, so that even a 30 s run meets every kind at least once.
   */
  async run(untilMs: number): Promise<void> {
    await Promise.all([this.runDatabaseFaults(untilMs), this.runRuntimeFaults(untilMs), this.runCommitCuts(untilMs)]);
    while (this.background.size > 0) await Promise.all([...this.background]);
  }

  private async runDatabaseFaults(untilMs: number): Promise<void> {
    const maxGapMs = Math.max(500, Math.min(4_500, Math.round((untilMs - this.timeline.now()) / 12)));
    for (;;) {
      const gapMs = this.rng.int(Math.round(maxGapMs / 3), maxGapMs);
      if (this.timeline.now() + gapMs >= untilMs) return;
      await sleep(gapMs);
      if (this.databaseBag.length === 0) this.databaseBag = this.rng.shuffle(DATABASE_KINDS);
      await this.inject(this.databaseBag.pop()!);
    }
  }

  /** Short gaps: the long faults go on in the background, so even a 20 s run meets all four kinds. */
  private async runRuntimeFaults(untilMs: number): Promise<void> {
    const maxGapMs = Math.max(500, Math.min(4_000, Math.round((untilMs - this.timeline.now()) / 10)));
    for (;;) {
      const gapMs = this.runtimeRng.int(Math.round(maxGapMs / 3), maxGapMs);
      if (this.timeline.now() + gapMs >= untilMs) return;
      await sleep(gapMs);
      if (this.runtimeBag.length === 0) this.runtimeBag = this.nextRuntimeBag();
      const kind = this.runtimeBag[this.runtimeBag.length - 1]!;
      const target = await this.pickRuntime(untilMs);
      if (!target) return;
      this.runtimeBag.pop();
      this.counts[kind]++;
      this.faulted.add(target);
      const fault = this.runtimeFault(kind, target).finally(() => this.faulted.delete(target));
      if (kind === 'sigkill' || kind === 'sigterm') {
        await fault;
      } else {
        const tracked: Promise<void> = fault.finally(() => this.background.delete(tracked));
        this.background.add(tracked);
      }
    }
  }

  /**
   * A short fault, a long one, a short one, a long one (taken from the end): two long ones never
   * come together, so no short one waits behind two runtimes away at once and a short run meets all four.
   */
  private nextRuntimeBag(): RuntimeFaultKind[] {
    const short = this.runtimeRng.shuffle(['sigkill', 'sigterm'] as const);
    const long = this.runtimeRng.shuffle(['sigkillStaysDown', 'sigstop'] as const);
    return [long[1]!, short[1]!, long[0]!, short[0]!];
  }

  /** A serving runtime, not under a fault, that is not the last one serving; waits for one until `untilMs`. */
  private async pickRuntime(untilMs: number): Promise<AppServer | undefined> {
    while (this.timeline.now() < untilMs) {
      const serving = this.fleet.runtimes.filter((r) => r.isRunning && !r.paused && !this.faulted.has(r));
      if (serving.length >= 2) return this.runtimeRng.pick(serving);
      await sleep(200);
    }
    return undefined;
  }

  private async runtimeFault(kind: RuntimeFaultKind, runtime: AppServer): Promise<void> {
    const note = await this.watch.note(runtime.name, kind, runtime.pid);
    switch (kind) {
      case 'sigkill':
        return this.sigkill(runtime, () => this.watch.died(note));
      case 'sigkillStaysDown': {
        const downMs = LEASE_MS + this.runtimeRng.int(...PAST_LEASE_MS);
        this.timeline.log(`fault: SIGKILL ${runtime.name} (pid ${runtime.pid}); it stays down ${downMs} ms, past its lease: the others adopt its workflows`);
        await runtime.kill();
        this.watch.died(note);
        await sleep(downMs);
        await this.fleet.start(runtime);
        this.timeline.log(`fault: ${runtime.name} is serving again`);
        return;
      }
      case 'sigstop': {
        const pausedMs = LEASE_MS + this.runtimeRng.int(...PAST_LEASE_MS);
        this.timeline.log(`fault: SIGSTOP ${runtime.name} (pid ${runtime.pid}) for ${pausedMs} ms, past its lease: the others adopt its workflows, then SIGCONT`);
        runtime.pause();
        this.watch.died(note);
        await sleep(pausedMs);
        runtime.resume();
        this.timeline.log(`fault: SIGCONT ${runtime.name}: it must find out it was fenced`);
        return;
      }
      case 'sigterm': {
        const downMs = this.runtimeRng.int(0, 1_000);
        this.timeline.log(`fault: SIGTERM ${runtime.name} (pid ${runtime.pid}): it hands its workflows over; started again after ${downMs} ms`);
        // The grace for running workflows and the HTTP drain are 10 s each.
        const stopped = this.timeline.beginStopping(runtime.baseUrl);
        await runtime.stop(30_000);
        stopped();
        // Timed from the handover, at its exit, not from the signal: the grace period is not adoption.
        this.watch.died(note);
        if (runtime.lastExit !== '0') this.problems.push(`${runtime.name} did not stop cleanly on SIGTERM (exit: ${runtime.lastExit})`);
        await sleep(downMs);
        await this.fleet.start(runtime);
        this.timeline.log(`fault: ${runtime.name} is serving again`);
        return;
      }
    }
  }

  /** A commit cut every 0.5 to 2.5 s, so that even a short run cuts a few dozen. */
  private async runCommitCuts(untilMs: number): Promise<void> {
    for (;;) {
      const gapMs = this.cutRng.int(500, 2_500);
      if (this.timeline.now() + gapMs >= untilMs) return;
      await sleep(gapMs);
      await this.commitLost();
    }
  }

  private async inject(kind: (typeof DATABASE_KINDS)[number]): Promise<void> {
    this.counts[kind]++;
    switch (kind) {
      case 'pgRestart':
        return this.pgRestart();
      case 'terminateBackend':
        return this.terminateBackends();
      case 'stall':
        return this.stall();
    }
  }

  private async commitLost(): Promise<void> {
    const marked = this.cutRng.chance(0.75);
    this.commitCutsArmed++;
    const cut = await this.proxy.loseNextCommitAnswer({ marker: marked ? COMMIT_CUT_MARK : undefined, timeoutMs: COMMIT_CUT_WAIT_MS });
    if (!cut) {
      this.timeline.log(`fault: no ${marked ? 'marked ' : ''}COMMIT came within ${COMMIT_CUT_WAIT_MS} ms; the commit cut was withdrawn`);
      return;
    }
    this.counts.commitLost++;
    this.timeline.log(`fault: ${cut.committed === 'commit' ? 'COMMIT' : 'a self-committing statement'} on ${cut.database} reached the server, its answer was dropped and the connection cut: ${cut.statement.slice(0, 110)}`);
  }

  /** SIGKILL, restart; now and then a second SIGKILL right after the restart, in the middle of its recovery. */
  private async sigkill(server: AppServer, died: () => void): Promise<void> {
    const downMs = this.runtimeRng.int(0, 800);
    const twice = this.runtimeRng.chance(0.3);
    this.timeline.log(`fault: SIGKILL ${server.name} (pid ${server.pid}), restart after ${downMs} ms${twice ? ', killed again as it recovers' : ''}`);
    await server.kill();
    died();
    await sleep(downMs);
    if (twice) {
      // Killed while it starts: loading, migrating or recovering, whichever it has reached.
      const starting = server.start().catch(() => undefined);
      await sleep(this.runtimeRng.int(100, 900));
      await server.kill();
      await starting;
    }
    await this.fleet.start(server);
    this.timeline.log(`fault: ${server.name} is serving again`);
  }

  private async pgRestart(): Promise<void> {
    const downMs = this.rng.int(500, 3_000);
    // fast: sessions are ended and the server shuts down cleanly; immediate: it stops as if it
    // crashed, and replays its WAL on the next start.
    const mode = this.rng.pick(['fast', 'immediate'] as const);
    this.timeline.log(`fault: Postgres stops (${mode} shutdown) for ${downMs} ms`);
    const backUp = this.timeline.beginOutage('pgRestart');
    try {
      await this.postgres.stop(mode);
      await sleep(downMs);
      await this.postgres.start();
    } finally {
      backUp();
    }
    this.timeline.log('fault: Postgres is back');
  }

  /** Ends every session of the app's two databases, or a random half of them. */
  private async terminateBackends(): Promise<void> {
    const share = this.rng.pick([1, 0.5]);
    const rows = await this.postgres.query<{ terminated: number; active: number }>(
      'postgres',
      `SELECT count(*) FILTER (WHERE random() < $3 AND pg_terminate_backend(pid))::int AS terminated,
              count(*) FILTER (WHERE state = 'active')::int AS active
       FROM pg_stat_activity
       WHERE datname = ANY($1) AND application_name <> $2 AND pid <> pg_backend_pid() AND backend_type = 'client backend'`,
      [[APP_DATABASE, SYSTEM_DATABASE], HARNESS_APPLICATION_NAME, share],
    );
    this.timeline.log(`fault: pg_terminate_backend ended ${rows[0]?.terminated ?? 0} sessions of the app (${rows[0]?.active ?? 0} were running a statement)`);
  }

  private async stall(): Promise<void> {
    const target = this.rng.pick(STALL_TARGETS);
    const holdMs = this.rng.int(2_000, 5_000);
    const client = await this.postgres.connect(target.database);
    try {
      await client.query('BEGIN');
      await client.query("SET LOCAL lock_timeout = '10s'");
      await client.query(`LOCK TABLE ${target.table} IN ACCESS EXCLUSIVE MODE`);
      this.timeline.log(`fault: ${target.table} locked (ACCESS EXCLUSIVE) for ${holdMs} ms`);
      await sleep(holdMs);
      await client.query('COMMIT');
    } finally {
      await client.end().catch(() => undefined);
    }
    this.timeline.log(`fault: ${target.table} unlocked`);
  }
}
