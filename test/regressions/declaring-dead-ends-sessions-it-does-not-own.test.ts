/**
 * Declaring an executor dead ends database sessions that are not that executor's transactions.
 *
 * When an executor is declared dead, its sessions are found by their application_name (its
 * session tag) and ended, so that a transaction a paused process left open frees its locks for the
 * adopter. But a session's application_name is not proof that it holds such a transaction:
 * - behind a transaction-mode PgBouncer, a server connection keeps the last client's
 *   application_name while it sits idle, and shows it still while PgBouncer sends the next
 *   client's `SET application_name`; ending it then fails that other, healthy runtime's statement
 *   ("invalid server parameter", or 57P01). The PgBouncer leg of the suite met exactly this when six
 *   runtimes started at once;
 * - an executor replaced by a new runtime in the same process, or one whose process is gone, has no
 *   paused transaction to end: the first is running, the second's sessions close with its sockets.
 *
 * Only a transaction begun before the executor's lease lapsed can be one its paused process holds.
 * This test stands in for the pooler's shared sessions with direct sessions that carry a dead
 * executor's tag: one inside a transaction begun before the lapse (it must be ended), one inside a
 * transaction begun after it, as a pooled session serving another client would be, and one idle
 * (both must live); and a replaced executor whose lease has not lapsed (its session must live).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ensureDatabaseExists } from '../../packages/runtime/src/database/pools.js';
import { heartbeat, setExecutorState } from '../../packages/runtime/src/system-db/executors.js';
import { SYSTEM_MIGRATIONS } from '../../packages/runtime/src/system-db/migrations.generated.js';
import { migrateSchema } from '../../packages/runtime/src/system-db/schema-migrator.js';
import { uniqueName } from '../helpers/test-databases.js';

const server = inject('postgres');
// The sessions stand for a pooler's; they go to the server itself, whatever this run goes through.
const direct = { ...server, ...(server.direct ?? {}) };
const database = uniqueName('deadtags');
let pool: pg.Pool;
const clients: pg.Client[] = [];

beforeAll(async () => {
  await ensureDatabaseExists({ ...direct, ssl: 'disable', connectionTimeoutMillis: 5000 }, database);
  pool = new pg.Pool({ host: direct.host, port: direct.port, user: server.user, password: server.password, database, max: 2 });
  await migrateSchema(pool, database, SYSTEM_MIGRATIONS);
});

afterAll(async () => {
  for (const client of clients) await client.end().catch(() => undefined);
  await pool?.end();
});

async function session(tag: string): Promise<{ client: pg.Client }> {
  const client = new pg.Client({ host: direct.host, port: direct.port, user: server.user, password: server.password, database, application_name: tag });
  // An ended session's client reports the server's termination here; the test asks it directly.
  client.on('error', () => undefined);
  await client.connect();
  clients.push(client);
  return { client };
}

async function register(instanceId: string, tag: string, leaseMs: number): Promise<void> {
  await pool.query(
    `INSERT INTO operon.executors (instance_id, executor_id, host, host_key, pid, session_tag, started_at, lease_ms, state, version, loaded_versions)
     VALUES ($1, $2, 'test-host', 'test-host-key', 1, $3, 0, $4, 'live', NULL, '{}')`,
    [instanceId, `executor-${instanceId.slice(0, 8)}`, tag, leaseMs],
  );
}

/** Whether a session still answers: an ended one has its socket closed by the server. */
async function answers(client: pg.Client): Promise<boolean> {
  return client.query('SELECT 1').then(
    () => true,
    () => false,
  );
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('declaring an executor dead', () => {
  it('ends only the transactions its sessions began before its lease lapsed', async () => {
    const dead = randomUUID();
    const deadTag = `operon-${randomBytes(6).toString('hex')}`;
    await register(dead, deadTag, 1500);
    const paused = await session(deadTag);
    await paused.client.query('BEGIN');
    await paused.client.query('SELECT 1');
    const idle = await session(deadTag);
    const reused = await session(deadTag);
    // The lease lapses 1.5 s after the registration's heartbeat.
    await sleep(2000);
    await reused.client.query('BEGIN');
    await reused.client.query('SELECT 1');

    const adopter = randomUUID();
    await register(adopter, `operon-${randomBytes(6).toString('hex')}`, 10_000);
    const beat = await heartbeat(pool, adopter, [], []);
    expect(beat.alive).toBe(true);
    expect(beat.toAdopt).toEqual([]);
    const [{ state }] = (await pool.query('SELECT state FROM operon.executors WHERE instance_id = $1', [dead])).rows;
    expect(state).toBe('dead');

    expect(await answers(paused.client), 'the transaction begun before the lapse is ended').toBe(false);
    expect(await answers(reused.client), 'a transaction begun after the lapse lives').toBe(true);
    expect(await answers(idle.client), 'an idle session lives').toBe(true);
    await reused.client.query('COMMIT');
  });

  it('ends no session of an executor declared dead before its lease lapsed (replaced, or its process gone)', async () => {
    const replaced = randomUUID();
    const tag = `operon-${randomBytes(6).toString('hex')}`;
    await register(replaced, tag, 10_000);
    const running = await session(tag);
    await running.client.query('BEGIN');
    await running.client.query('SELECT 1');

    await setExecutorState(pool, [replaced], 'dead');
    const [{ state }] = (await pool.query('SELECT state FROM operon.executors WHERE instance_id = $1', [replaced])).rows;
    expect(state).toBe('dead');
    expect(await answers(running.client), 'the replaced executor\'s running transaction lives').toBe(true);
    await running.client.query('COMMIT');

    const gone = randomUUID();
    const goneTag = `operon-${randomBytes(6).toString('hex')}`;
    await register(gone, goneTag, 10_000);
    const lingering = await session(goneTag);
    await lingering.client.query('BEGIN');
    const adopter = randomUUID();
    await register(adopter, `operon-${randomBytes(6).toString('hex')}`, 10_000);
    await heartbeat(pool, adopter, [gone], []);
    expect(await answers(lingering.client), 'a session tagged as a gone executor, in a transaction begun within its lease, lives').toBe(true);
  });
});
