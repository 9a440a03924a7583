import type pg from 'pg';
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
 * transaction, so several processes starting at once apply each migration exactly once.
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
      await client.query('BEGIN');
      try {
        await client.query('SELECT pg_advisory_xact_lock($1, $2)', [LOCK_CLASS, LOCK_ID]);
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
        await client.query(next.sql);
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
