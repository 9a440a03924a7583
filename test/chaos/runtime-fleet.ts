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

export class RuntimeFleet {
  readonly runtimes: readonly AppServer[];

  constructor(app: ChaosApp, ports: readonly number[], timeline: Timeline) {
    this.runtimes = ports.map((port, i) => {
      const name = `r${i}`;
      // The last runtime leaves OPERON_EXECUTOR_ID unset: it runs under a generated id.
      const executorId = i < ports.length - 1 ? `chaos-${name}` : undefined;
      const server = new AppServer(app.dir, app.configFile, join(app.root, `server-${name}.log`), { name, port, executorId });
      server.onCrash = (crash) => {
        timeline.log(`${name}: operon start CRASHED (${crash.exit}); starting it again. Its last output:\n${crash.output}`);
        setTimeout(() => void server.start().catch((error: Error) => timeline.log(`${name}: could not restart it: ${error.message}`)), 500);
      };
      return server;
    });
  }

  get baseUrls(): string[] {
    return this.runtimes.map((r) => r.baseUrl);
  }

  /** Starts every runtime that is not running (all at once: they race for the same recovery). */
  async startAll(): Promise<void> {
    await Promise.all(this.runtimes.map((r) => r.start()));
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
