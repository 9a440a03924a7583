/**
 * Regression: a start waiting for another's migrations polled the lock inside an open transaction.
 * Behind a transaction pooler that transaction holds a server connection for as long as it waits,
 * and the lock's holder needs a connection of its own for an index built outside a transaction
 * (system migration 12): with as many starts as the pooler has server connections, the build waits
 * for a connection that only the waiters hold, and the waiters wait for the build. And a database
 * whose transactions default to repeatable read gave the holder's transaction (and each waiter's) a
 * snapshot for its whole length: the build waits for every older snapshot, so it waited for ever.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { OperonRuntime, createLogger, resolveConfig } from '@operon/runtime';
import { freePort } from '../helpers/global-setup.js';
import { startPgBouncer, type PgBouncer } from '../helpers/pgbouncer.js';
import { query, testConfigInput } from '../helpers/test-databases.js';

const server = inject('postgres');
const direct = server.direct ?? { host: server.host, port: server.port };

function within<T>(promise: Promise<T>, ms: number): Promise<T | 'timed out'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timed out'>((resolve) => (timer = setTimeout(() => resolve('timed out'), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function startAll(input: Record<string, any>, database: Record<string, unknown>, count: number): Promise<OperonRuntime[] | 'timed out'> {
  const starts = Array.from({ length: count }, (_, i) => {
    const config = resolveConfig({ ...input, database }, { file: '', appDir: process.cwd(), env: { ...process.env, OPERON_EXECUTOR_ID: `${input.database.system_database}-${i}` } });
    return OperonRuntime.create({ config, classes: [], logger: createLogger('error') });
  });
  const all = Promise.allSettled(starts);
  const outcome = await within(all, 20_000);
  if (outcome === 'timed out') {
    // Unblock the stuck starts (their sessions end), then let them settle.
    await query('postgres', `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, [input.database.system_database]);
    for (const settled of await all) if (settled.status === 'fulfilled') await settled.value.destroy({ timeoutMs: 1000 });
    return 'timed out';
  }
  const runtimes = outcome.flatMap((settled) => (settled.status === 'fulfilled' ? [settled.value] : []));
  const failed = outcome.find((settled) => settled.status === 'rejected');
  if (failed) {
    for (const runtime of runtimes) await runtime.destroy({ timeoutMs: 1000 });
    throw (failed as PromiseRejectedResult).reason;
  }
  return runtimes;
}

async function expectMigratedOnce(system: string): Promise<void> {
  const versions = await query<{ version: number }>(system, 'SELECT version FROM operon.schema_version ORDER BY version');
  expect(versions.map((row) => row.version)).toEqual(versions.map((_, i) => i + 1));
  const indexes = await query<{ name: string; valid: boolean }>(
    system,
    `SELECT c.relname AS name, i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
      WHERE c.relname IN ('workflow_status_queue_created', 'workflow_status_version_created') ORDER BY 1`,
  );
  expect(indexes).toEqual([
    { name: 'workflow_status_queue_created', valid: true },
    { name: 'workflow_status_version_created', valid: true },
  ]);
}

let bouncer: PgBouncer | undefined;
beforeAll(async () => {
  bouncer = await startPgBouncer({ serverHost: direct.host, serverPort: direct.port, user: server.user, password: server.password, port: await freePort(), poolSize: 2 });
});
afterAll(async () => {
  await bouncer?.stop();
});

describe('starts racing on a fresh system database', () => {
  it('behind a pooler of two server connections, three starts all migrate, each migration once', async () => {
    const input = testConfigInput('mlpin');
    for (const name of [input.database.user_database, input.database.system_database]) await query('postgres', `CREATE DATABASE "${name}"`);
    const database = { ...input.database, hostname: bouncer!.host, port: bouncer!.port, pooler: 'transaction', notifications: 'poll' };
    const runtimes = await startAll(input, database, 3);
    expect(runtimes).not.toBe('timed out');
    for (const runtime of runtimes as OperonRuntime[]) await runtime.destroy({ timeoutMs: 1000 });
    await expectMigratedOnce(input.database.system_database);
  }, 60_000);

  it('on a database whose transactions default to repeatable read, two starts migrate', async () => {
    const input = testConfigInput('mlrr');
    for (const name of [input.database.user_database, input.database.system_database]) {
      await query('postgres', `CREATE DATABASE "${name}"`);
      await query('postgres', `ALTER DATABASE "${name}" SET default_transaction_isolation = 'repeatable read'`);
    }
    const runtimes = await startAll(input, { ...input.database, hostname: direct.host, port: direct.port }, 2);
    expect(runtimes).not.toBe('timed out');
    for (const runtime of runtimes as OperonRuntime[]) await runtime.destroy({ timeoutMs: 1000 });
    await expectMigratedOnce(input.database.system_database);
  }, 60_000);
});
