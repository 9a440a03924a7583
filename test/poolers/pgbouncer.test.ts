/**
 * Operon behind a real PgBouncer in transaction mode (Debian's package, on loopback, in front of
 * the test Postgres): server sessions are shared between clients, so nothing may be prepared by
 * name or set per session, and LISTEN has no session to live on.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { Communicator, Transaction, Workflow, type CommunicatorContext, type TransactionContext, type WorkflowContext } from '@operon/sdk';
import { OperonConfigError, OperonRuntime, createLogger, resolveConfig, type OperonConfig } from '@operon/runtime';
import { createPool, type ConnectionSettings } from '../../packages/runtime/src/database/pools.js';
import { SYSTEM_MIGRATIONS } from '../../packages/runtime/src/system-db/migrations.generated.js';
import { within } from '../helpers/app-dir.js';
import { freePort } from '../helpers/global-setup.js';
import { havePgBouncer, startPgBouncer, type PgBouncer } from '../helpers/pgbouncer.js';
import { query, testConfigInput, withExecutorId } from '../helpers/test-databases.js';

const server = inject('postgres');
// The Postgres itself: when the whole run already goes through a pooler, the one behind it.
const direct = server.direct ?? { host: server.host, port: server.port };

if (process.env.CI && !havePgBouncer()) throw new Error('CI runs the pooler tests: .ci/run installs pgbouncer');

let bouncer: PgBouncer;
let oneSession: PgBouncer;
beforeAll(async () => {
  const target = { serverHost: direct.host, serverPort: direct.port, user: server.user, password: server.password };
  bouncer = await startPgBouncer({ ...target, port: await freePort(), poolSize: 2 });
  // One server session per database for every client: what one client leaves there, the next meets.
  oneSession = await startPgBouncer({ ...target, port: await freePort(), poolSize: 1 });
});
afterAll(async () => {
  await bouncer?.stop();
  await oneSession?.stop();
});

function settingsOf(through: PgBouncer, pooler: 'none' | 'transaction'): ConnectionSettings {
  return { host: through.host, port: through.port, user: server.user, password: server.password, ssl: 'disable', connectionTimeoutMillis: 5_000, pooler };
}

class Ledger {
  @Transaction()
  static async add(ctx: TransactionContext, id: string, amount: number): Promise<number> {
    const { rows } = await ctx.client.query<{ total: string }>(
      'INSERT INTO pooled_ledger (id, amount) VALUES ($1, $2) RETURNING (SELECT coalesce(sum(amount), 0) FROM pooled_ledger) + $2 AS total',
      [id, amount],
    );
    return Number(rows[0]!.total);
  }

  @Communicator()
  static async stamp(_ctx: CommunicatorContext, id: string): Promise<string> {
    return `stamped ${id}`;
  }

  @Workflow()
  static async pay(ctx: WorkflowContext, id: string, amount: number): Promise<string> {
    await ctx.invoke(Ledger).add(id, amount);
    const stamp = await ctx.invoke(Ledger).stamp(id);
    const reply = await ctx.recv<string>('go', 60);
    await ctx.setEvent('paid', reply);
    return `${stamp} ${reply}`;
  }
}

describe('statements through a shared server session', () => {
  it('a named statement breaks a second client of the same session; with pooler: transaction none is named', async () => {
    const database = 'postgres';
    for (const pooler of ['none', 'transaction'] as const) {
      const pool = createPool(settingsOf(oneSession, pooler), database, 2);
      try {
        const [a, b] = [await pool.connect(), await pool.connect()];
        const named = { name: 'operon_probe', text: 'SELECT $1::int + 1 AS n', values: [1] };
        try {
          expect((await a.query(named)).rows[0].n).toBe(2);
          const second = b.query(named).then(
            (r) => r.rows[0].n,
            (e: { code?: string }) => e.code,
          );
          // PgBouncer gives both clients the one server session, which already holds the statement.
          expect(await second).toBe(pooler === 'none' ? '42P05' : 2);
        } finally {
          a.release();
          b.release(true);
        }
      } finally {
        await pool.end();
      }
    }
  });

  it('a read-only pool begins every transaction READ ONLY, since a session setting would outlive it', async () => {
    const pool = createPool(settingsOf(bouncer, 'transaction'), 'postgres', 2, true);
    try {
      for (const begin of ['BEGIN', 'BEGIN ISOLATION LEVEL SERIALIZABLE', 'begin read write', 'START TRANSACTION ISOLATION LEVEL REPEATABLE READ']) {
        const client = await pool.connect();
        try {
          await client.query(begin);
          const error = await client.query('CREATE TEMP TABLE ro_probe (x int)').then(
            () => undefined,
            (e: { code?: string }) => e.code,
          );
          expect(error, begin).toBe('25006');
        } finally {
          await client.query('ROLLBACK').catch(() => undefined);
          client.release();
        }
      }
      // Nothing of it stays on the shared server session: a writable pool after it can write.
      const writable = createPool(settingsOf(bouncer, 'transaction'), 'postgres', 1);
      try {
        expect((await writable.query('SELECT current_setting($1) AS v', ['transaction_read_only'])).rows[0].v).toBe('off');
      } finally {
        await writable.end();
      }
    } finally {
      await pool.end();
    }
  });
});

function pooledConfig(prefix: string, database: Record<string, unknown>): OperonConfig {
  const input = testConfigInput(prefix, { database: { hostname: bouncer.host, port: bouncer.port, pooler: 'transaction', ...database } });
  return resolveConfig(input, { file: '', appDir: process.cwd(), env: { ...process.env, OPERON_EXECUTOR_ID: input.database.system_database } });
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(sorted.length * p) - 1))]!;
}
const p99 = (values: number[]) => percentile(values, 0.99);

/**
 * Two runtimes behind the pooler: one runs the workflows, the other sends to them (as another
 * process would), so a wake-up can only come by the notification mode under test.
 */
async function payThroughPooler(label: string, database: Record<string, unknown>): Promise<number[]> {
  const config = pooledConfig(label, database);
  const runner = await OperonRuntime.create({ config, classes: [Ledger], logger: createLogger('warn') });
  const sender = await OperonRuntime.create({ config: withExecutorId(config, `${label}-sender`), classes: [], logger: createLogger('warn') });
  try {
    await runner.appPool.query('CREATE TABLE IF NOT EXISTS pooled_ledger (id TEXT PRIMARY KEY, amount INT NOT NULL)');
    await runner.recover();
    const n = 30;
    const handles = await Promise.all(
      Array.from({ length: n }, (_, i) => runner.client.invoke(Ledger, { workflowUUID: `${label}-${i}` }).pay(`${label}-${i}`, i)),
    );
    const latencies: number[] = [];
    for (let i = 0; i < n; i++) {
      // Each workflow is waiting in recv by now or soon: its send wakes it.
      await waitUntil(async () => (await query(config.database.system_database, "SELECT 1 FROM operon.operation_outputs WHERE workflow_uuid = $1 AND function_name = 'Ledger.stamp'", [`${label}-${i}`])).length === 1);
      await new Promise((resolve) => setTimeout(resolve, 20));
      const sentAt = performance.now();
      await sender.messaging.send(`${label}-${i}`, `go-${i}`, 'go');
      expect(await sender.messaging.getEvent(`${label}-${i}`, 'paid', 30)).toBe(`go-${i}`);
      latencies.push(performance.now() - sentAt);
    }
    expect(await Promise.all(handles.map((h) => h.getResult()))).toEqual(Array.from({ length: n }, (_, i) => `stamped ${label}-${i} go-${i}`));
    const [row] = await query(config.database.user_database, 'SELECT count(*)::int AS n, sum(amount)::int AS total FROM pooled_ledger');
    expect(row).toEqual({ n, total: (n * (n - 1)) / 2 });
    return latencies;
  } finally {
    await sender.destroy({ timeoutMs: 0 });
    await runner.destroy({ timeoutMs: 0 });
  }
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('a runtime behind PgBouncer in transaction mode', () => {
  it('runs workflows exactly once, polling for notifications, and states the wake-up latency', async () => {
    const latencies = await payThroughPooler('pgb_poll', { notifications: 'poll', pollIntervalMs: 100 });
    console.log(`behind PgBouncer, notifications: poll every 100 ms: send → getEvent p50 ${Math.round(percentile(latencies, 0.5))} ms, p99 ${Math.round(p99(latencies))} ms over ${latencies.length} wake-ups`);
    // A poll every 100 ms (±25%) answers within a few intervals even on a loaded machine.
    expect(p99(latencies)).toBeLessThan(5_000);
  });

  it('runs workflows with LISTEN on a direct connection (database.listenUrl), and states the wake-up latency', async () => {
    const listenUrl = `postgres://${encodeURIComponent(server.user)}:${encodeURIComponent(server.password)}@${direct.host}:${direct.port}/postgres`;
    const latencies = await payThroughPooler('pgb_listen', { listenUrl });
    console.log(`behind PgBouncer, LISTEN on database.listenUrl: send → getEvent p50 ${Math.round(percentile(latencies, 0.5))} ms, p99 ${Math.round(p99(latencies))} ms over ${latencies.length} wake-ups`);
    expect(p99(latencies)).toBeLessThan(5_000);
  });

  it('answers a missing database through the pooler by creating it, though the pooler reports it as 08P01', async () => {
    const config = pooledConfig('pgb_fresh', { notifications: 'poll' });
    const rt = await OperonRuntime.create({ config, classes: [Ledger], logger: createLogger('warn') });
    await rt.destroy({ timeoutMs: 0 });
    const rows = await query('postgres', 'SELECT datname FROM pg_database WHERE datname = ANY($1) ORDER BY datname', [[config.database.user_database, config.database.system_database]]);
    expect(rows).toHaveLength(2);
  });
});

describe('the heartbeat behind PgBouncer in transaction mode', () => {
  it('renews the lease on its own connection while the runtime\'s system pool is held in a transaction', async () => {
    const config = pooledConfig('pgb_beat', { notifications: 'poll', poolSize: 1 });
    const rt = await OperonRuntime.create({ config, classes: [Ledger], logger: createLogger('warn') });
    await rt.recover();
    const held = await rt.systemDb.systemPool.connect();
    try {
      const instance = rt.executor.lease.instanceId;
      // One of the pooler's two server sessions is now held by this transaction; the heartbeat's statements take the other.
      await held.query('BEGIN; SELECT 1');
      const beatAt = async () =>
        Number((await query(config.database.system_database, 'SELECT (extract(epoch FROM heartbeat_at) * 1000)::bigint AS at FROM operon.executors WHERE instance_id = $1', [instance]))[0].at);
      const first = await beatAt();
      await waitUntil(async () => (await beatAt()) > first, 10_000);
      const second = await beatAt();
      await waitUntil(async () => (await beatAt()) > second, 10_000);
      const [row] = await query(config.database.system_database, 'SELECT state FROM operon.executors WHERE instance_id = $1', [instance]);
      expect(row.state).toBe('live');
    } finally {
      await held.query('ROLLBACK').catch(() => undefined);
      held.release();
      await rt.destroy({ timeoutMs: 0 });
    }
  });
});

describe('migrating behind a pool of one server connection', () => {
  it('two starts on fresh databases both start, each migration applied once, its indexes valid', async () => {
    const input = testConfigInput('pgb_one', { database: { hostname: oneSession.host, port: oneSession.port, pooler: 'transaction', notifications: 'poll' } });
    const config = resolveConfig(input, { file: '', appDir: process.cwd(), env: { ...process.env, OPERON_EXECUTOR_ID: input.database.system_database } });
    // The second waits for the first's index builds (system migration 12) without holding the one server connection they need.
    const startedAt = performance.now();
    const starts = Promise.allSettled([config, withExecutorId(config, 'pgb_one-b')].map((c) => OperonRuntime.create({ config: c, classes: [], logger: createLogger('error') })));
    const outcome = await within(starts, 30_000, 'timed out' as const);
    console.log(`behind PgBouncer with default_pool_size = 1: two starts on fresh databases, both migrated and up in ${Math.round(performance.now() - startedAt)} ms`);
    if (outcome === 'timed out') {
      // A start stuck on the one connection: end its sessions, then let it settle.
      await query('postgres', 'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [input.database.system_database]);
    }
    for (const settled of await starts) if (settled.status === 'fulfilled') await settled.value.destroy({ timeoutMs: 0 });
    expect(outcome === 'timed out' ? outcome : outcome.map((settled) => settled.status)).toEqual(['fulfilled', 'fulfilled']);
    const versions = await query<{ version: number }>(input.database.system_database, 'SELECT version FROM operon.schema_version ORDER BY 1');
    expect(versions.map((row) => row.version)).toEqual(SYSTEM_MIGRATIONS.map((m) => m.version));
    const invalid = await query(input.database.system_database, "SELECT indexrelid::regclass::text FROM pg_index WHERE NOT indisvalid");
    expect(invalid).toEqual([]);
  }, 60_000);
});

describe('pooler settings', () => {
  const resolve = (database: Record<string, unknown>) => resolveConfig({ database: { hostname: 'db.example', ...database } }, { file: 'operon-config.yaml', appDir: process.cwd(), env: {} });

  it('polls by default behind a transaction pooler, and listens on listenUrl when one is named', () => {
    expect(resolve({ pooler: 'transaction' }).database).toMatchObject({ pooler: 'transaction', notifications: 'poll', listen: undefined, pollIntervalMs: 100 });
    const listening = resolve({ pooler: 'transaction', listenUrl: 'postgres://u:secret@direct.example:6543/whatever?sslmode=require' }).database;
    expect(listening).toMatchObject({ notifications: 'listen', listen: { hostname: 'direct.example', port: 6543, username: 'u', ssl: 'require' } });
    // The URL's password is kept, but never shown.
    expect(listening.listen!.password).toBe('secret');
    expect(JSON.stringify(listening)).not.toContain('secret');
    expect(resolve({}).database).toMatchObject({ pooler: 'none', notifications: 'listen' });
  });

  it('refuses LISTEN through a transaction pooler, a bad listenUrl, and pooler settings for the embedded Postgres, naming the key', () => {
    const messageOf = (make: () => unknown) => {
      try {
        make();
      } catch (error) {
        expect(error).toBeInstanceOf(OperonConfigError);
        return (error as Error).message;
      }
      throw new Error('no error');
    };
    expect(messageOf(() => resolve({ pooler: 'transaction', notifications: 'listen' }))).toMatch(/database\.notifications.*listenUrl/s);
    const bad = messageOf(() => resolve({ listenUrl: 'postgres://:hunter2@/x' }));
    expect(bad).toMatch(/database\.listenUrl/);
    expect(bad).not.toContain('hunter2');
    expect(messageOf(() => resolve({ listenUrl: 'mysql://x' }))).toMatch(/database\.listenUrl/);
    const embedded = (database: Record<string, unknown>) => resolveConfig({ database }, { file: 'operon-config.yaml', appDir: process.cwd(), env: {} });
    expect(messageOf(() => embedded({ pooler: 'transaction' }))).toMatch(/database\.pooler/);
    expect(messageOf(() => embedded({ listenUrl: 'postgres://h/x' }))).toMatch(/database\.listenUrl/);
    expect(messageOf(() => resolve({ pollIntervalMs: 1 }))).toMatch(/database\.pollIntervalMs/);
  });
});

