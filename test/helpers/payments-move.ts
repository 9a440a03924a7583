/**
 * The scene of the tests of a move made while a run finishes: version 1 of the latched payments
 * app (latched-payments-app.ts) serving behind an HTTP server with a management token, version 2
 * stored beside it. The file's afterAll releases the latch and stops everything.
 */
import { afterAll } from 'vitest';
import { createHttpServer, type OperonRuntime } from '@operon/runtime';
import { moveBundle, moveState, paymentsOf } from './latched-payments-app.js';
import { authorizedPost, type HttpServer } from './management-requests.js';
import { query } from './test-databases.js';
import { configWithAppDir, startVersion, storeVersion, type Bundle } from './versioned-runtime.js';

export interface PaymentsMoveScene {
  readonly runtime: OperonRuntime;
  readonly app: HttpServer;
  readonly v1: Bundle;
  readonly v2: Bundle;
}

export function usePaymentsMove(prefix: string, token: string) {
  const { config, removeAppDir } = configWithAppDir(prefix, { management: { token } });
  let runtime: OperonRuntime | undefined;
  let app: HttpServer | undefined;
  afterAll(async () => {
    moveState().release();
    await app?.close();
    await runtime?.destroy({ timeoutMs: 1000 });
    removeAppDir();
  });
  return {
    config,
    /** A query on the system database. */
    sys: (text: string, values: unknown[] = []) => query(config.database.system_database, text, values),
    /** An authorized management POST (once `start` has made the server). */
    post: (url: string, payload?: object) => authorizedPost(app!, token)(url, payload),
    /** Starts version 1 (bundles of a new tag), stores version 2 and serves HTTP. */
    async start(): Promise<PaymentsMoveScene> {
      const tag = String(Math.random());
      const v1 = moveBundle(1, tag);
      const v2 = moveBundle(2, tag);
      runtime = await startVersion(config, paymentsOf(1), v1);
      await storeVersion(config, v2);
      app = await createHttpServer(runtime);
      return { runtime, app, v1, v2 };
    },
  };
}
