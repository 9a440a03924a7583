/**
 * `operon.app_migrations` in the app database: which of the app's `migrations/*.sql` files have
 * run. Every call but `listApplied` is made inside the transaction that applies one file.
 */
import type pg from 'pg';
import { SQLSTATE, sqlState } from '../database/sqlstate.js';

// The two-key advisory lock of app migrations: Operon's tag, and 2 (schema-migrator.ts uses 1).
const LOCK_CLASS = 0x6f70_6572;
const LOCK_ID = 2;

/** The names applied so far, read without a lock (a missing table means none). */
export async function listApplied(client: pg.ClientBase): Promise<Set<string>> {
  try {
    const { rows } = await client.query<{ name: string }>('SELECT name FROM operon.app_migrations');
    return new Set(rows.map((row) => row.name));
  } catch (error) {
    // Also when schema `operon` is missing: Postgres reports a qualified name as an undefined table.
    if (sqlState(error) === SQLSTATE.UNDEFINED_TABLE) return new Set();
    throw error;
  }
}

/** Serializes app migrations across processes until the transaction ends, then ensures the table. */
export async function lockAndEnsureTable(client: pg.ClientBase): Promise<void> {
  await client.query('SELECT pg_advisory_xact_lock($1, $2)', [LOCK_CLASS, LOCK_ID]);
  await client.query(
    'CREATE SCHEMA IF NOT EXISTS operon; ' +
      'CREATE TABLE IF NOT EXISTS operon.app_migrations (name TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())',
  );
}

export async function isApplied(client: pg.ClientBase, name: string): Promise<boolean> {
  const { rowCount } = await client.query('SELECT 1 FROM operon.app_migrations WHERE name = $1', [name]);
  return (rowCount ?? 0) > 0;
}

export async function recordApplied(client: pg.ClientBase, name: string): Promise<void> {
  await client.query('INSERT INTO operon.app_migrations (name) VALUES ($1)', [name]);
}
