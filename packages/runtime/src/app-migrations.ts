/**
 * The app's own SQL migrations: the `.sql` files of its `migrations/` folder, applied to the app
 * database in name order, each once, each in its own transaction that also records it. A
 * transaction-scoped advisory lock makes processes that migrate at once apply each file once.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type pg from 'pg';
import type { Logger } from 'pino';
import { OperonError } from '@operon/sdk';
import type { OperonRuntime } from './runtime.js';
import { isApplied, listApplied, lockAndEnsureTable, recordApplied } from './system-db/app-migrations-table.js';

/** A migration file failed; nothing of it was applied, and the files after it were not tried. */
export class OperonAppMigrationError extends OperonError {
  static override readonly CODE = 'OPERON_ERR_MIGRATION_APP_FILE';
  constructor(readonly file: string, detail: string) {
    super(`migration ${file} failed: ${detail}; fix it and migrate again (the files before it stay applied)`);
  }
}

/** The `.sql` files of `dir` in name order (byte order: number them with leading zeros). */
function migrationFiles(dir: string): string[] {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new OperonAppMigrationError(dir, `cannot read the migrations folder (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  return entries
    .filter((entry) => entry.isFile() && entry.name.endsWith('.sql'))
    .map((entry) => entry.name)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Postgres's message, with its SQLSTATE and, when it gives a position, the line and column in the file. */
function describePostgresError(error: unknown, sql: string): string {
  const e = error as { message?: string; code?: string; position?: string; detail?: string; hint?: string };
  const where: string[] = [];
  if (e.code) where.push(`SQLSTATE ${e.code}`);
  const position = Number(e.position);
  if (Number.isInteger(position) && position > 0) {
    const before = sql.slice(0, position - 1);
    const line = before.split('\n').length;
    const column = position - 1 - before.lastIndexOf('\n');
    where.push(`line ${line}, column ${column}`);
  }
  const extra = [e.detail, e.hint].filter(Boolean).join('; ');
  return `${e.message ?? String(error)}${where.length ? ` (${where.join(', ')})` : ''}${extra ? ` — ${extra}` : ''}`;
}

/**
 * Applies the files of `migrationsDir` not yet recorded in `operon.app_migrations` of the app
 * database; returns the names applied by this call. A missing folder means no migrations.
 */
export async function applyAppMigrations(
  target: pg.Pool | OperonRuntime,
  migrationsDir: string,
  logger?: Pick<Logger, 'info'>,
): Promise<string[]> {
  const files = migrationFiles(migrationsDir);
  if (files.length === 0) return [];
  const pool = 'appPool' in target ? target.appPool : target;
  const client = await pool.connect();
  const applied: string[] = [];
  try {
    // Fast path: when every file is recorded, one query and no lock.
    const seen = await listApplied(client);
    for (const name of files.filter((file) => !seen.has(file))) {
      const path = join(migrationsDir, name);
      const sql = readFileSync(path, 'utf8');
      await client.query('BEGIN');
      try {
        await lockAndEnsureTable(client);
        // Another process may have applied it while this one waited for the lock.
        if (await isApplied(client, name)) {
          await client.query('COMMIT');
          continue;
        }
        try {
          await client.query(sql);
        } catch (error) {
          throw new OperonAppMigrationError(path, describePostgresError(error, sql));
        }
        await recordApplied(client, name);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      }
      applied.push(name);
      logger?.info({ migration: name }, `applied migration ${name}`);
    }
    return applied;
  } finally {
    client.release();
  }
}
