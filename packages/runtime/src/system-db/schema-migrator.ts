import pg from 'pg';
import { OperonError } from '@operon/sdk';
import { SQLSTATE, sqlState } from '../database/sqlstate.js';
import type { SchemaMigration } from './migrations.generated.js';

/** The database holds a schema version this runtime does not know: an older runtime must not touch it. */
export class OperonSchemaTooNewError extends OperonError {
  static override readonly CODE = 'OPERON_ERR_SCHEMA_TOO_NEW';
  constructor(readonly database: string, readonly found: number, readonly known: number) {
    super(
      `database "${database}" has Operon schema version ${found}, newer than this runtime knows (${known}); ` +
        `upgrade @operon/runtime before starting`,
    );
  }
}

// Both numbers of the two-key advisory lock: a fixed tag for Operon's migrations.
const LOCK_CLASS = 0x6f70_6572;
const LOCK_ID = 1;

// How often a process waiting for another's migrations tries the lock again.
const LOCK_RETRY_MS = 20;

/**
 * Opens a transaction holding the migration lock. By polling, not by waiting in
 * pg_advisory_xact_lock: a session waiting inside a statement holds a snapshot all along, and a
 * CREATE INDEX CONCURRENTLY run by the lock's holder waits for every older snapshot to go, so the
 * two would wait for each other for ever. A try that fails ends its transaction: a waiter holds
 * no snapshot and, behind a transaction pooler, no server connection between tries (the holder
 * needs one more for a build outside its transaction). Read committed whatever the database's
 * default: under repeatable read the transaction would keep a snapshot the build waits on.
 */
async function lockMigrations(client: pg.ClientBase): Promise<void> {
  for (;;) {
    await client.query('BEGIN ISOLATION LEVEL READ COMMITTED');
    // A simple query, no parameters: a statement sent with parameters (extended protocol) leaves its
    // portal open in the transaction, holding its snapshot after it ended, and the build would wait on it.
    let locked: boolean;
    try {
      const { rows } = await client.query<{ locked: boolean }>(`SELECT pg_try_advisory_xact_lock(${LOCK_CLASS}, ${LOCK_ID}) AS locked`);
      locked = rows[0]!.locked;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
    if (locked) return;
    await client.query('ROLLBACK');
    await new Promise((resolve) => setTimeout(resolve, LOCK_RETRY_MS));
  }
}

/** The statements of a migration run outside a transaction: plain statements, one per `;`, comment lines dropped. */
function statementsOf(sql: string): string[] {
  const text = sql
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('--'))
    .join('\n');
  return text
    .split(';')
    .map((statement) => statement.trim())
    .filter((statement) => statement !== '');
}

/**
 * Runs a migration's statements one at a time, each its own transaction, on a connection of its
 * own (not the pool's: a pool of one connection is held by the migrating transaction), while
 * the caller's transaction keeps the lock. That transaction sits between statements, holding no
 * snapshot, so a concurrent index build does not wait for it.
 */
async function runOutsideTransaction(pool: pg.Pool, migration: SchemaMigration): Promise<void> {
  const options = pool.options as pg.PoolConfig & { Client?: typeof pg.Client };
  const Client = options.Client ?? pg.Client;
  // The pool keeps the password non-enumerable: a spread alone would drop it.
  const client = new Client({ ...options, password: options.password });
  await client.connect();
  try {
    for (const statement of statementsOf(migration.sql)) await client.query(statement);
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function currentVersion(client: pg.ClientBase): Promise<number> {
  try {
    const { rows } = await client.query<{ v: number | null }>('SELECT max(version) AS v FROM operon.schema_version');
    return rows[0]?.v ?? 0;
  } catch (error) {
    if (sqlState(error) === SQLSTATE.UNDEFINED_TABLE) return 0;
    throw error;
  }
}

/**
 * Brings schema `operon` of one database to the newest version. Each migration runs in its own
 * transaction under a transaction-scoped advisory lock and records its version in that same
 * transaction, so several processes starting at once apply each migration exactly once. A
 * migration marked outside-transaction (index builds that must not block writes) runs its
 * statements on another connection while that transaction holds the lock, and is recorded once
 * they all succeeded; its statements are written so that running them again is safe.
 * Returns the versions applied by this call.
 */
export async function migrateSchema(
  pool: pg.Pool,
  databaseName: string,
  migrations: readonly SchemaMigration[],
): Promise<number[]> {
  const known = migrations.length;
  const client = await pool.connect();
  const applied: number[] = [];
  try {
    // Fast path: an up-to-date schema costs one query and takes no lock.
    const seen = await currentVersion(client);
    if (seen > known) throw new OperonSchemaTooNewError(databaseName, seen, known);
    if (seen === known) return applied;
    for (;;) {
      await lockMigrations(client);
      try {
        await client.query(
          'CREATE SCHEMA IF NOT EXISTS operon; ' +
            'CREATE TABLE IF NOT EXISTS operon.schema_version (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)',
        );
        const version = await currentVersion(client);
        if (version > known) throw new OperonSchemaTooNewError(databaseName, version, known);
        if (version === known) {
          await client.query('COMMIT');
          return applied;
        }
        const next = migrations[version]!;
        if (next.outsideTransaction) await runOutsideTransaction(pool, next);
        else await client.query(next.sql);
        await client.query('INSERT INTO operon.schema_version (version, applied_at) VALUES ($1, $2)', [
          next.version,
          Date.now(),
        ]);
        await client.query('COMMIT');
        applied.push(next.version);
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      }
    }
  } finally {
    client.release();
  }
}
