/** Databases and runtimes for tests, on the Postgres that global-setup started. */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { OperonRuntime, resolveConfig, type OperonConfig } from '@operon/runtime';
import { createLogger } from '../../packages/runtime/src/logging.js';

export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(4).toString('hex')}`.toLowerCase();
}

/**
 * `database` settings for a test about the LISTEN connection: behind a pooler (OPERON_TEST_POOLER)
 * it goes to the server directly, as `database.listenUrl` lets users do; otherwise nothing to add.
 */
export function listenDirectly(): Record<string, unknown> {
  const server = inject('postgres');
  if (!server.direct) return {};
  const password = encodeURIComponent(server.password);
  return { listenUrl: `postgres://${encodeURIComponent(server.user)}:${password}@${server.direct.host}:${server.direct.port}/postgres` };
}

/** True when this run goes through a transaction-mode PgBouncer. */
export function behindPooler(): boolean {
  return inject('postgres').direct !== undefined;
}

/** The config input (as operon-config.yaml would hold it) naming two fresh databases on the test server. */
export function testConfigInput(prefix: string, extra: Record<string, unknown> = {}): Record<string, any> {
  const server = inject('postgres');
  const name = uniqueName(prefix);
  const { database, ...rest } = extra as { database?: Record<string, unknown> };
  return {
    database: {
      hostname: server.host,
      port: server.port,
      username: server.user,
      password: server.password,
      user_database: `${name}_app`,
      system_database: `${name}_sys`,
      // A run through PgBouncer (OPERON_TEST_POOLER) tells Operon so, as a user behind one would.
      ...(server.direct ? { pooler: 'transaction' } : {}),
      ...database,
    },
    telemetry: { logs: { logLevel: process.env.OPERON_TEST_LOG_LEVEL ?? 'warn' } },
    ...rest,
  };
}

/**
 * A resolved config naming two fresh databases (created on first use) on the test server, with an
 * explicit executor id of its own: a second runtime made from the same config in this process is
 * a restart of the first (it takes its place and its workflows, as after a crash). Give a runtime
 * that must run beside the first another id with {@link withExecutorId}.
 */
export function testConfig(prefix: string, extra: Record<string, unknown> = {}): OperonConfig {
  const input = testConfigInput(prefix, extra);
  return resolveConfig(input, { file: '', appDir: process.cwd(), env: { ...process.env, OPERON_EXECUTOR_ID: input.database.system_database } });
}

/** The same config under another executor id: a runtime that runs beside the others, not in their place. */
export function withExecutorId(config: OperonConfig, executorId: string): OperonConfig {
  return { ...config, runtimeConfig: { ...config.runtimeConfig, executorId } };
}

/** A client on one database of the test server; the caller ends it. */
export async function connectTo(database: string): Promise<pg.Client> {
  const server = inject('postgres');
  const client = new pg.Client({ host: server.host, port: server.port, user: server.user, password: server.password, database });
  await client.connect();
  return client;
}

/**
 * Pools of two connections on `config`'s system and app databases, for calling the management
 * functions directly, as the CLI does with no runtime running; `end` closes both.
 */
export function poolsOn(config: OperonConfig): { systemPool: pg.Pool; appPool: pg.Pool; end(): Promise<void> } {
  const server = inject('postgres');
  const pool = (database: string) => new pg.Pool({ host: server.host, port: server.port, user: server.user, password: server.password, database, max: 2 });
  const systemPool = pool(config.database.system_database);
  const appPool = pool(config.database.user_database);
  return { systemPool, appPool, end: async () => void (await Promise.all([systemPool.end(), appPool.end()])) };
}

/** A PENDING workflow row that no executor owns or adopts (another executor id, no owner): for tests where only its status matters. */
export function insertUnownedWorkflow(systemDatabase: string, uuid: string, parent: string | null = null): Promise<unknown[]> {
  return query(
    systemDatabase,
    `INSERT INTO operon.workflow_status (workflow_uuid, status, workflow_name, kind, executor_id, inputs, parent_uuid, created_at, updated_at)
     VALUES ($1, 'PENDING', 'Tree.node', 'workflow', 'elsewhere', '[]', $2, $3, $3)`,
    [uuid, parent, Date.now()],
  );
}

export async function query<R = any>(database: string, text: string, values: unknown[] = []): Promise<R[]> {
  const client = await connectTo(database);
  try {
    return (await client.query(text, values)).rows as R[];
  } finally {
    await client.end();
  }
}

/** A runtime on `config` (fresh databases by default), recovered and ready. */
export async function startRuntime(classes: unknown[], config: OperonConfig = testConfig('t')): Promise<OperonRuntime> {
  const runtime = await OperonRuntime.create({ config, classes, logger: createLogger(config.telemetry.logs.logLevel) });
  await runtime.recover();
  return runtime;
}

/**
 * Starts `cls.name(...args)` through the runtime's client, as a handler's `ctx.invoke` would: for
 * tests that pick the method by name or pass a caller's identity.
 */
export function invokeByName<R = unknown>(
  runtime: OperonRuntime,
  cls: object,
  name: string,
  args: unknown[],
  options: Parameters<OperonRuntime['client']['invoke']>[1] = {},
): Promise<R> {
  const invoker = runtime.client.invoke(cls, options) as unknown as Record<string, (...a: unknown[]) => Promise<R>>;
  return invoker[name]!(...args);
}
