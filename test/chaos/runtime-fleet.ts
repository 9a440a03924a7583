/**
 * The runtimes of the app under test: several `operon start` processes on one Postgres, each on
 * its own port, the first ones under an explicit `OPERON_EXECUTOR_ID`, the last with a generated
 * one. Each is supervised (a crash is recorded, and the process started again); the clients spread
 * their requests over all of them, as a load balancer would.
 */
import { join } from 'node:path';
import { AppServer, type Adoption } from './app-server.js';
import type { ChaosApp } from './app-folder.js';
import type { Timeline } from './timeline.js';

/** How long a runtime's start is retried while the database is away. */
const START_GIVE_UP_MS = 120_000;

export class RuntimeFleet {
  readonly runtimes: readonly AppServer[];
  /** Set once the run is over (on failure too): nothing is started again. */
  private closed = false;

  constructor(
    app: ChaosApp,
    ports: readonly number[],
    private readonly timeline: Timeline,
    /** False while a fault has the database down: a runtime that starts then refuses to. */
    private readonly databaseUp: () => boolean,
  ) {
    this.runtimes = ports.map((port, i) => {
      const name = `r${i}`;
      // The last runtime leaves OPERON_EXECUTOR_ID unset: it runs under a generated id.
      const executorId = i < ports.length - 1 ? `chaos-${name}` : undefined;
      const server = new AppServer(app.dir, app.configFile, join(app.root, `server-${name}.log`), { name, port, executorId });
      server.onCrash = (crash) => {
        if (this.closed) return;
        timeline.log(`${name}: operon start CRASHED (${crash.exit}); starting it again. Its last output:\n${crash.output}`);
        setTimeout(() => void this.start(server).catch((error: Error) => timeline.log(`${name}: could not restart it: ${error.message}`)), 500);
      };
      return server;
    });
  }

  get baseUrls(): string[] {
    return this.runtimes.map((r) => r.baseUrl);
  }

  /**
   * Starts a runtime, as a supervisor would: while the database is down (a fault may be under way
   * beside the runtime's), `operon start` refuses to start; it is tried again until it serves.
   */
  async start(runtime: AppServer): Promise<void> {
    const giveUpAt = this.timeline.now() + START_GIVE_UP_MS;
    for (;;) {
      if (this.closed) throw new Error(`${runtime.name}: the run is over; not started`);
      while (!this.databaseUp() && this.timeline.now() < giveUpAt) await new Promise((resolve) => setTimeout(resolve, 100));
      try {
        return await runtime.start();
      } catch (error) {
        if (this.timeline.now() >= giveUpAt) throw error;
        this.timeline.log(`${runtime.name}: operon start did not serve (${(error as Error).message.split('\n')[1] ?? ''}); trying again`);
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  }

  /** Starts every runtime that is not running (all at once: they race for the same recovery). */
  async startAll(): Promise<void> {
    await Promise.all(this.runtimes.map((r) => this.start(r)));
  }

  /** Continues paused ones, starts stopped ones. */
  async ensureAllUp(): Promise<void> {
    for (const r of this.runtimes) if (r.paused) r.resume();
    await this.startAll();
  }

  async killAll(): Promise<void> {
    await Promise.all(this.runtimes.map((r) => r.kill()));
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.runtimes.map((r) => r.stop()));
  }

  killNow(): void {
    this.closed = true;
    for (const r of this.runtimes) r.killNow();
  }

  get recoveredWorkflows(): number {
    return this.runtimes.reduce((sum, r) => sum + r.recoveredWorkflows, 0);
  }

  get adoptions(): Adoption[] {
    return this.runtimes.flatMap((r) => r.adoptions);
  }

  get fenced(): { executors: number; workflows: number } {
    return {
      executors: this.runtimes.reduce((sum, r) => sum + r.fenced.executors, 0),
      workflows: this.runtimes.reduce((sum, r) => sum + r.fenced.workflows, 0),
    };
  }
}
