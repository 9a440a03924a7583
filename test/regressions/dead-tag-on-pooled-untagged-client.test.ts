/**
 * Regression: behind a transaction-mode PgBouncer, declaring an executor dead ended another
 * client's transaction. PgBouncer sets a server session's application_name only for a client that
 * named one: a client that names none (another service of the app, a psql, a migration tool on
 * the same database and user) runs on a session that still shows the last client's name. So after
 * a paused executor's pooled session went back to PgBouncer, such a client's transaction on it
 * showed the executor's session tag, and one begun before the lease lapsed was ended with the
 * paused process's (57P01): only the application_name tied it to the dead executor.
 *
 * Now, behind a pooler, an executor's sessions carry a neutral name and each of its transactions
 * names its tag itself (SET LOCAL, in its BEGIN), so the tag is seen only inside its own
 * transactions: the paused one is still ended, and nobody else's.
 *
 * Reproduction: PgBouncer with two server sessions. The executor's pool (pooler: transaction) holds
 * a transaction open on one (the paused process) and runs a transaction on the other, which goes
 * back to the pooler; a client without an application_name begins a transaction there before the
 * lease lapses. Another executor's heartbeat declares the first dead.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { createPool, ensureDatabaseExists, type ConnectionSettings } from '../../packages/runtime/src/database/pools.js';
import { heartbeat } from '../../packages/runtime/src/system-db/executors.js';
import { SYSTEM_MIGRATIONS } from '../../packages/runtime/src/system-db/migrations.generated.js';
import { migrateSchema } from '../../packages/runtime/src/system-db/schema-migrator.js';
import { freePort } from '../helpers/global-setup.js';
import { startPgBouncer, type PgBouncer } from '../helpers/pgbouncer.js';
import { uniqueName } from '../helpers/test-databases.js';

const server = inject('postgres');
const direct = { ...server, ...(server.direct ?? {}) };
const database = uniqueName('deadtagpool');
let bouncer: PgBouncer;
let admin: pg.Pool;
const pools: pg.Pool[] = [];
const clients: pg.Client[] = [];

beforeAll(async () => {
  await ensureDatabaseExists({ ...direct, ssl: 'disable', connectionTimeoutMillis: 5000 }, database);
  admin = new pg.Pool({ host: direct.host, port: direct.port, user: server.user, password: server.password, database, max: 2 });
  await migrateSchema(admin, database, SYSTEM_MIGRATIONS);
  bouncer = await startPgBouncer({ serverHost: direct.host, serverPort: direct.port, user: server.user, password: server.password, port: await freePort(), poolSize: 2 });
});

afterAll(async () => {
  for (const client of clients) await client.end().catch(() => undefined);
  for (const pool of pools) await pool.end().catch(() => undefined);
  await admin?.end();
  await bouncer?.stop();
});

const pooled = (): ConnectionSettings => ({
  host: bouncer.host, port: bouncer.port, user: server.user, password: server.password, ssl: 'disable', connectionTimeoutMillis: 5_000, pooler: 'transaction',
});

async function register(instanceId: string, tag: string, leaseMs: number): Promise<void> {
  await admin.query(
    `INSERT INTO operon.executors (instance_id, executor_id, host, host_key, pid, session_tag, started_at, lease_ms, state, version, loaded_versions)
     VALUES ($1, $2, 'test-host', 'test-host-key', 1, $3, 0, $4, 'live', NULL, '{}')`,
    [instanceId, `executor-${instanceId.slice(0, 8)}`, tag, leaseMs],
  );
}

const answers = (client: { query(text: string): Promise<unknown> }) =>
  client.query('SELECT 1').then(
    () => true,
    () => false,
  );

it('ends the paused executor\'s transaction and not the one of a client without a name on a session it used', async () => {
  const dead = randomUUID();
  const tag = `operon-${randomBytes(6).toString('hex')}`;
  await register(dead, tag, 1500);
  const executorPool = createPool(pooled(), database, 2, false, tag);
  pools.push(executorPool);
  executorPool.on('error', () => undefined);
  const paused = await executorPool.connect();
  await paused.query('BEGIN ISOLATION LEVEL SERIALIZABLE');
  await paused.query('SELECT 1');
  // The executor's other session: a transaction, then back to the pooler.
  const done = await executorPool.connect();
  await done.query('BEGIN');
  await done.query('SELECT 1');
  await done.query('COMMIT');
  done.release();

  const other = new pg.Client({ host: bouncer.host, port: bouncer.port, user: server.user, password: server.password, database });
  other.on('error', () => undefined);
  await other.connect();
  clients.push(other);
  await other.query('BEGIN');
  await other.query('SELECT 1');
  // The lease lapses 1.5 s after the registration's heartbeat.
  await new Promise((resolve) => setTimeout(resolve, 2_000));

  const adopter = randomUUID();
  await register(adopter, `operon-${randomBytes(6).toString('hex')}`, 10_000);
  expect((await heartbeat(admin, adopter, [], [])).alive).toBe(true);
  const [{ state }] = (await admin.query('SELECT state FROM operon.executors WHERE instance_id = $1', [dead])).rows;
  expect(state).toBe('dead');

  expect(await answers(paused), 'the paused executor\'s transaction is ended').toBe(false);
  paused.release(true);
  expect(await answers(other), 'the transaction of a client without a name lives').toBe(true);
  await other.query('COMMIT');
});
