/**
 * The scaffold of a test file that drives real `operon start` processes (test/executors/fleet.ts):
 * the CLI is checked to be built and the app prepared before the file's tests, with its first
 * executors started, and after them every process the file started is killed and the app removed.
 */
import { afterAll, beforeAll } from 'vitest';
import { assertCliBuilt } from '../cli/cli-process.js';
import { killAll, prepareFleetApp, startExecutor, type FleetApp, type FleetProcess } from '../executors/fleet.js';

export interface FleetScaffold {
  /** The prepared app (read it inside a test or hook: it is ready once the file's beforeAll ran). */
  readonly app: FleetApp;
  /** Every process of the file: push the ones a test starts, so that they are killed after it. */
  readonly executors: FleetProcess[];
}

/** By default one executor, started and serving. */
const oneExecutor = async (app: FleetApp): Promise<FleetProcess[]> => [await startExecutor(app)];

export interface FleetOptions {
  /** The setup's timeout (by default the suite's hook timeout). */
  readonly timeoutMs?: number;
  /** The app's runtimeConfig, as prepareFleetApp takes it. */
  readonly runtimeConfig?: Record<string, unknown>;
}

/** `first` starts the executors that serve before the file's tests. */
export function useFleet(prefix: string, first: (app: FleetApp) => Promise<FleetProcess[]> = oneExecutor, { timeoutMs, runtimeConfig }: FleetOptions = {}): FleetScaffold {
  let app: FleetApp | undefined;
  const executors: FleetProcess[] = [];
  beforeAll(async () => {
    assertCliBuilt();
    app = await prepareFleetApp(prefix, runtimeConfig);
    executors.push(...(await first(app)));
  }, timeoutMs);
  afterAll(async () => {
    await killAll(executors);
    app?.remove();
  });
  return {
    get app(): FleetApp {
      if (!app) throw new Error('the fleet app is prepared in beforeAll: read it inside a test or hook');
      return app;
    },
    executors,
  };
}
