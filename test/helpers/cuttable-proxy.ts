/**
 * A runtime behind a TCP proxy in front of the test Postgres that a test can break on purpose:
 * drop every connection and refuse new ones for a while (the server is away), let the next
 * statement reach the server and then lose its answer with the connection (it committed, the
 * client cannot know), or lose the answer to the next COMMIT. The proxy is the chaos harness's
 * (test/chaos/postgres-proxy.ts), so tests and the harness break connections the same way.
 */
import { inject } from 'vitest';
import type { OperonRuntime } from '@operon/runtime';
import { PostgresProxy } from '../chaos/postgres-proxy.js';
import { startRuntime, testConfig } from './test-databases.js';

export { PostgresProxy as CuttableProxy } from '../chaos/postgres-proxy.js';

export interface RuntimeBehindProxy {
  readonly runtime: OperonRuntime;
  readonly proxy: PostgresProxy;
  /** Restores the proxy, stops the runtime, closes the proxy. */
  close(): Promise<void>;
}

/**
 * A recovered runtime on fresh databases whose every connection passes through a new proxy, so a
 * test can take the database away from it. Outages log warnings by design: it logs errors only
 * (unless `extra`, further config as testConfig takes it, says otherwise).
 */
export async function runtimeBehindProxy(
  classes: unknown[],
  prefix: string,
  connectionTimeoutMillis = 1_000,
  extra: Record<string, unknown> = {},
): Promise<RuntimeBehindProxy> {
  const server = inject('postgres');
  const proxy = new PostgresProxy({ host: server.host, port: server.port });
  const port = await proxy.listen();
  const runtime = await startRuntime(
    classes,
    testConfig(prefix, {
      telemetry: { logs: { logLevel: 'error' } },
      ...extra,
      database: { ...(extra.database as Record<string, unknown> | undefined), hostname: '127.0.0.1', port, connectionTimeoutMillis },
    }),
  );
  return {
    runtime,
    proxy,
    close: async () => {
      proxy.restore();
      await runtime.destroy({ timeoutMs: 1_000 });
      await proxy.close();
    },
  };
}
