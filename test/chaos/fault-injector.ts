/**
 * Faults on a seeded schedule while the load runs, one at a time: a gap, then the next fault from
 * a shuffled bag of the four kinds (so a short run still meets each kind), until the load ends.
 *
 *   sigkill           the `operon start` process is killed with SIGKILL, then started again
 *   pgRestart         Postgres is stopped (fast shutdown) under the running app, then started
 *   terminateBackend  pg_terminate_backend on every session of the app's two databases
 *   stall             a session holds ACCESS EXCLUSIVE on one of Operon's tables for seconds
 *
 * Beside them, on a schedule of their own (they break one connection, not the database):
 *
 *   commitLost        the proxy between the app and Postgres lets a COMMIT through, drops the
 *                     server's answer and cuts that connection: the work is durable, the app
 *                     cannot know. Usually the COMMIT of a record that carries the ledger's
 *                     mark (a debit's transaction, a charge's output record), else any COMMIT.
 */
import type { AppServer } from './app-server.js';
import { APP_DATABASE, SYSTEM_DATABASE } from './app-folder.js';
import { COMMIT_CUT_MARK } from './app/src/commit-cut-mark.js';
import type { PostgresProxy } from './postgres-proxy.js';
import { HARNESS_APPLICATION_NAME, type PostgresServer } from './postgres-server.js';
import type { SeededRandom } from './seeded-random.js';
import type { Timeline } from './timeline.js';

export const FAULT_KINDS = ['sigkill', 'pgRestart', 'terminateBackend', 'stall', 'commitLost'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];
/** The faults of the one-at-a-time schedule. */
const SCHEDULED_KINDS = ['sigkill', 'pgRestart', 'terminateBackend', 'stall'] as const;
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
  readonly counts: Record<FaultKind, number> = { sigkill: 0, pgRestart: 0, terminateBackend: 0, stall: 0, commitLost: 0 };
  /** Commit cuts armed, made or not. */
  commitCutsArmed = 0;
  private bag: FaultKind[] = [];
  private readonly cutRng: SeededRandom;

  constructor(
    private readonly rng: SeededRandom,
    private readonly timeline: Timeline,
    private readonly server: AppServer,
    private readonly postgres: PostgresServer,
    private readonly proxy: PostgresProxy,
  ) {
    this.cutRng = rng.fork('commit-cuts');
  }

  /**
   * Injects faults until `untilMs` (timeline time); a fault under way when it comes is finished.
   * Gaps shrink with short runs, so that even a 30 s run meets every kind at least once.
   */
  async run(untilMs: number): Promise<void> {
    await Promise.all([this.runScheduled(untilMs), this.runCommitCuts(untilMs)]);
  }

  private async runScheduled(untilMs: number): Promise<void> {
    const maxGapMs = Math.max(500, Math.min(4_500, Math.round((untilMs - this.timeline.now()) / 12)));
    for (;;) {
      const gapMs = this.rng.int(Math.round(maxGapMs / 3), maxGapMs);
      if (this.timeline.now() + gapMs >= untilMs) return;
      await sleep(gapMs);
      await this.inject(this.nextKind());
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

  private nextKind(): FaultKind {
    if (this.bag.length === 0) this.bag = this.rng.shuffle(SCHEDULED_KINDS);
    return this.bag.pop()!;
  }

  async inject(kind: FaultKind): Promise<void> {
    if (kind !== 'commitLost') this.counts[kind]++;
    switch (kind) {
      case 'sigkill':
        return this.sigkill();
      case 'pgRestart':
        return this.pgRestart();
      case 'terminateBackend':
        return this.terminateBackends();
      case 'stall':
        return this.stall();
      case 'commitLost':
        return this.commitLost();
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
  private async sigkill(): Promise<void> {
    const downMs = this.rng.int(0, 800);
    const twice = this.rng.chance(0.3);
    this.timeline.log(`fault: SIGKILL operon start (pid ${this.server.pid}), restart after ${downMs} ms${twice ? ', killed again as it recovers' : ''}`);
    await this.server.kill();
    await sleep(downMs);
    if (twice) {
      // Killed while it starts: loading, migrating or recovering, whichever it has reached.
      const starting = this.server.start().catch(() => undefined);
      await sleep(this.rng.int(100, 900));
      await this.server.kill();
      await starting;
    }
    await this.server.start();
    this.timeline.log('fault: operon start is serving again');
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
