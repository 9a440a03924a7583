import { randomUUID } from 'node:crypto';
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
 * CREATE INDEX CONCURRENTLY under way waits for every older snapshot to go. A try that fails ends
 * its transaction: a waiter holds no snapshot and, behind a transaction pooler, no server
 * connection between tries (a build needs one). Read committed whatever the database's default:
 * under repeatable read the transaction would keep a snapshot a build waits on.
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

// How long a claim on a migration's build lasts without renewal (database time), and how often a
// process waiting for someone else's build looks again.
const BUILD_LEASE_SECONDS = 10;
const BUILD_POLL_MS = 200;

export interface MigrateOptions {
  /** How long a build's claim lasts unrenewed: a start that died mid-build is taken over after this. @default 10 */
  readonly buildLeaseSeconds?: number;
}

/**
 * Claims the build of an outside-transaction migration for `holder`, in the caller's transaction
 * (which holds the migration lock): taken when no one holds it, when its holder let it lapse, or
 * when it is the holder's already. False while another start's claim is live.
 */
async function claimBuild(client: pg.ClientBase, version: number, holder: string, leaseSeconds: number): Promise<boolean> {
  const { rowCount } = await client.query(
    `INSERT INTO operon.schema_build_lease (version, holder, expires_at) VALUES ($1, $2, now() + make_interval(secs => $3))
     ON CONFLICT (version) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
       WHERE schema_build_lease.expires_at < now() OR schema_build_lease.holder = EXCLUDED.holder`,
    [version, holder, leaseSeconds],
  );
  return rowCount === 1;
}

/** Extends the claim; false when it is no longer the holder's (it lapsed and another start took it over). */
async function renewBuild(client: pg.ClientBase, version: number, holder: string, leaseSeconds: number): Promise<boolean> {
  const { rowCount } = await client.query(
    'UPDATE operon.schema_build_lease SET expires_at = now() + make_interval(secs => $3) WHERE version = $1 AND holder = $2',
    [version, holder, leaseSeconds],
  );
  return rowCount === 1;
}

/**
 * Index builds running now in this database on a table of schema `operon`, other than this
 * session's. A build's table is hidden from a role that may not see the builder's session: those
 * count too (waiting for a stranger's build costs time, starting one beside it costs a deadlock).
 */
const OTHER_BUILDS = `SELECT count(*)::int AS n FROM pg_stat_progress_create_index p
  WHERE p.datid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND p.pid <> pg_backend_pid()
    AND (p.relid IS NULL OR p.relid IN (SELECT oid FROM pg_class WHERE relnamespace = 'operon'::regnamespace))`;

/** Indexes of schema `operon` that a build which failed or died midway left invalid (never used, still maintained on every write). */
const INVALID_INDEXES = `SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS name FROM pg_index i
  JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = 'operon' AND NOT i.indisvalid ORDER BY 1`;

/**
 * Runs a migration's statements one at a time, each its own transaction, on the migrating
 * connection, no transaction held meanwhile: behind a transaction pooler a migrating start needs
 * one server connection, not two. Exclusion is the build claim instead of the lock: the claim is
 * renewed (and checked) before every statement, so a start that lost it (it was cut off or paused
 * past the lease, and another took over) sends nothing more. First it waits for any build still
 * running in the schema: the server goes on with a statement whose client is gone, and a second
 * build beside it would deadlock with it. Polled, one short statement a look: a statement waiting
 * on the table would hold a snapshot that the other build waits for. Then it drops the invalid
 * indexes a dead build left (its statements create only what is missing, so an invalid leftover
 * would otherwise stay), each renamed first to a name of its own, so a late DROP never drops an
 * index rebuilt under the leftover's name. False when the claim was lost.
 */
async function buildOutsideTransaction(client: pg.ClientBase, migration: SchemaMigration, holder: string, leaseSeconds: number): Promise<boolean> {
  const claimed = () => renewBuild(client, migration.version, holder, leaseSeconds);
  for (;;) {
    if (!(await claimed())) return false;
    const { rows } = await client.query<{ n: number }>(OTHER_BUILDS);
    if (rows[0]!.n === 0) break;
    await new Promise((resolve) => setTimeout(resolve, BUILD_POLL_MS));
  }
  const { rows: invalid } = await client.query<{ name: string }>(INVALID_INDEXES);
  for (const { name } of invalid) {
    // A DROP sent cannot be fenced: one held up past the lease would arrive after the next start
    // rebuilt the index under its name, and drop the new one. So the leftover is first renamed to a
    // name of its own, in a transaction that checks the claim, and only that name is dropped.
    const leftover = `operon_dead_build_${randomUUID().replaceAll('-', '')}`;
    await client.query('BEGIN');
    try {
      if (!(await claimed())) {
        await client.query('ROLLBACK');
        return false;
      }
      await client.query(`ALTER INDEX IF EXISTS ${name} RENAME TO ${leftover}`);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
    if (!(await claimed())) return false;
    await client.query(`DROP INDEX CONCURRENTLY IF EXISTS operon.${leftover}`);
  }
  for (const statement of statementsOf(migration.sql)) {
    if (!(await claimed())) return false;
    await client.query(statement);
  }
  return true;
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
 * migration marked outside-transaction (index builds that must not block writes) is claimed under
 * the lock, built with no transaction open, and recorded under the lock again if the claim is
 * still the builder's; a start that finds the build claimed by another waits for it to be recorded,
 * or for the claim to lapse and takes it over. Its statements create only what is missing, so a
 * build begun again after a dead one finishes the work. Returns the versions applied by this call.
 */
export async function migrateSchema(
  pool: pg.Pool,
  databaseName: string,
  migrations: readonly SchemaMigration[],
  options: MigrateOptions = {},
): Promise<number[]> {
  const leaseSeconds = options.buildLeaseSeconds ?? BUILD_LEASE_SECONDS;
  const known = migrations.length;
  const holder = randomUUID();
  const client = await pool.connect();
  const applied: number[] = [];
  let failure: Error | undefined;
  try {
    // Fast path: an up-to-date schema costs one query and takes no lock.
    const seen = await currentVersion(client);
    if (seen > known) throw new OperonSchemaTooNewError(databaseName, seen, known);
    if (seen === known) return applied;
    for (;;) {
      await lockMigrations(client);
      let build: SchemaMigration | undefined;
      let claimedByAnother = false;
      try {
        await client.query(
          'CREATE SCHEMA IF NOT EXISTS operon; ' +
            'CREATE TABLE IF NOT EXISTS operon.schema_version (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL); ' +
            'CREATE TABLE IF NOT EXISTS operon.schema_build_lease (version INTEGER PRIMARY KEY, holder TEXT NOT NULL, expires_at TIMESTAMPTZ NOT NULL)',
        );
        const version = await currentVersion(client);
        if (version > known) throw new OperonSchemaTooNewError(databaseName, version, known);
        if (version === known) {
          await client.query('COMMIT');
          return applied;
        }
        const next = migrations[version]!;
        if (next.outsideTransaction) {
          if (await claimBuild(client, next.version, holder, leaseSeconds)) build = next;
          else claimedByAnother = true;
        } else {
          await client.query(next.sql);
          await record(client, next.version);
          applied.push(next.version);
        }
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      }
      // Another start's build is under way: look again later (the lock is free meanwhile).
      if (claimedByAnother) await new Promise((resolve) => setTimeout(resolve, BUILD_POLL_MS));
      if (build === undefined) continue;
      if (!(await buildOutsideTransaction(client, build, holder, leaseSeconds))) continue;
      await lockMigrations(client);
      try {
        // Recorded only by the claim's holder: a start that lost it leaves the record to the one that took it over.
        const { rowCount } = await client.query('DELETE FROM operon.schema_build_lease WHERE version = $1 AND holder = $2', [build.version, holder]);
        if (rowCount === 1) await record(client, build.version);
        await client.query('COMMIT');
        if (rowCount === 1) applied.push(build.version);
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      }
    }
  } catch (error) {
    failure = error as Error;
    throw error;
  } finally {
    // A connection that failed is closed, not handed back to the pool.
    client.release(failure);
  }
}

async function record(client: pg.ClientBase, version: number): Promise<void> {
  await client.query('INSERT INTO operon.schema_version (version, applied_at) VALUES ($1, $2)', [version, Date.now()]);
}
