/**
 * The testing runtime: the app's classes on a real runtime, with its migrations applied
 * and its routes reachable through Fastify's `inject`, for app authors' tests. It uses the databases
 * of the app's config, the embedded Postgres when the config names no host.
 */
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import type { ChildStarterOf, EnqueueOptions, HandlerInvokerOf, InvokeOptions, WorkflowHandle } from '@operon/sdk';
import { invokeArgument } from './client/operon-client.js';
import { applyAppMigrations } from './app-migrations.js';
import { loadConfig } from './config/load-config.js';
import type { OperonConfig } from './config/config-types.js';
import type { EmbeddedPostgres } from './database/embedded-postgres.js';
import { ANONYMOUS } from './executor/workflow-executor.js';
import { createHttpServer } from './http/http-server.js';
import { tlsOptions } from './database/pools.js';
import { createLogger } from './logging.js';
import { OperonRuntime, startEmbedded } from './runtime.js';
import { runInitializers } from './initializers.js';

export interface TestingRuntimeOptions {
  /**
   * Drop and recreate the system database first, so each test run starts with no workflows.
   * @default true
   */
  dropSystemDB?: boolean;
}

/** Who a testing runtime's `invoke` calls as: what an authenticator would have returned. */
export interface TestCaller {
  readonly authenticatedUser: string;
  readonly authenticatedRoles: readonly string[];
}

export interface TestingRuntime {
  /**
   * As a handler's `ctx.invoke`: workflows give a handle, transactions and communicators their
   * result. `caller` is who calls (default: an anonymous caller), for testing role checks.
   */
  invoke<T extends object>(cls: T, workflowUUID?: string | InvokeOptions, caller?: TestCaller): HandlerInvokerOf<T>;
  /** Enqueues a workflow of `cls` on `options.queue`, as a handler's `ctx.invoke(Cls, { queue })`. */
  invoke<T extends object>(cls: T, options: InvokeOptions & EnqueueOptions, caller?: TestCaller): ChildStarterOf<T>;
  retrieveWorkflow<R = unknown>(workflowUUID: string): WorkflowHandle<R>;
  send<M>(destinationUUID: string, message: M, topic?: string, idempotencyKey?: string): Promise<void>;
  getEvent<V = unknown>(workflowUUID: string, key: string, timeoutSeconds?: number): Promise<V | null>;
  /** Fastify's `inject` against the app's routes: an HTTP request without a socket. */
  inject: FastifyInstance['inject'];
  /** Runs `sql` on the app database and returns its rows. */
  queryUserDB<R = any>(sql: string, ...params: unknown[]): Promise<R[]>;
  /** Closes the HTTP server and the pools, and stops the embedded Postgres if one was started. */
  destroy(): Promise<void>;
  readonly runtime: OperonRuntime;
}

/** `DROP DATABASE … WITH (FORCE)` ends sessions still connected to it (Postgres 13+). */
async function dropDatabase(config: OperonConfig, server: EmbeddedPostgres | undefined, database: string): Promise<void> {
  const client = new pg.Client({
    host: server?.host ?? config.database.hostname,
    port: server?.port ?? config.database.port,
    user: server?.user ?? config.database.username,
    password: server?.password ?? config.database.password,
    ssl: tlsOptions(config.database.ssl, config.database.sslrootcert),
    connectionTimeoutMillis: config.database.connectionTimeoutMillis,
    database: 'postgres',
  });
  try {
    // Inside the try: a refused login leaves the socket open until the client is ended.
    await client.connect();
    await client.query(`DROP DATABASE IF EXISTS "${database.replace(/"/g, '""')}" WITH (FORCE)`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * A recovered runtime on the app's config (`configPath`, relative to the working directory), with
 * the `migrations/` folder next to the config applied and the HTTP routes built but not listening.
 * @example
 * ```ts
 * const testRuntime = await createTestingRuntime([Greetings], 'operon-config.yaml');
 * const handle = await testRuntime.invoke(Greetings).greet('Ada');
 * expect(await handle.getResult()).toMatch(/Ada/);
 * await testRuntime.destroy();
 * ```
 */
export async function createTestingRuntime(
  classes: unknown[],
  configPath = 'operon-config.yaml',
  options: TestingRuntimeOptions = {},
): Promise<TestingRuntime> {
  const config = loadConfig(configPath);
  const logger = createLogger(config.telemetry.logs.logLevel);
  // Whether destroy() stops the embedded server: only if this testing runtime started it.
  let stopEmbedded: boolean | undefined;
  if (options.dropSystemDB ?? true) {
    // The embedded server must run before a database on it can be dropped; the runtime adopts it.
    const server = config.database.embedded ? await startEmbedded(config, logger) : undefined;
    stopEmbedded = server ? !server.adopted : undefined;
    try {
      await dropDatabase(config, server, config.database.system_database);
    } catch (error) {
      if (stopEmbedded) await server?.stop();
      throw error;
    }
  }
  const runtime = await OperonRuntime.create({ config, classes, logger });
  let app: FastifyInstance;
  try {
    // The records of committed transactions and who owns their workflows live in the app database:
    // a fresh system database must not meet those of the workflows it forgot (same UUIDs, new runs).
    if (options.dropSystemDB ?? true) await runtime.appPool.query('TRUNCATE operon.transaction_outputs, operon.workflow_owners');
    await applyAppMigrations(runtime.appPool, join(config.appDir, 'migrations'), logger);
    await runtime.recover();
    await runInitializers(runtime);
    app = await createHttpServer(runtime);
  } catch (error) {
    await runtime.destroy({ stopEmbedded });
    throw error;
  }
  const client = runtime.client;
  let destroyed: Promise<void> | undefined;
  return {
    runtime,
    invoke: ((cls: object, argument?: string | object, caller?: TestCaller) => {
      const { workflowUUID, queue } = invokeArgument(argument);
      return client.invoke(cls, {
        queue,
        identity: caller ? { ...caller, assumedRole: '' } : ANONYMOUS,
        // A UUID given here is a client's: checked, and kept out of the derived namespace.
        nextWorkflowUUID: () => (workflowUUID === undefined ? undefined : { uuid: workflowUUID, derived: false }),
      });
    }) as TestingRuntime['invoke'],
    retrieveWorkflow: (workflowUUID) => client.retrieveWorkflow(workflowUUID),
    send: (destinationUUID, message, topic, idempotencyKey) => client.send(destinationUUID, message, topic, idempotencyKey),
    getEvent: (workflowUUID, key, timeoutSeconds) => client.getEvent(workflowUUID, key, timeoutSeconds),
    inject: app.inject.bind(app) as FastifyInstance['inject'],
    queryUserDB: async (sql, ...params) => (await runtime.appPool.query(sql, params.length > 0 ? params : undefined)).rows,
    destroy: () =>
      (destroyed ??= (async () => {
        await app.close();
        await runtime.destroy({ stopEmbedded });
      })()),
  };
}
