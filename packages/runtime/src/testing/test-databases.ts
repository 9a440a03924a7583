/**
 * The testing runtime's databases: `<user_database>_test` and `<system_database>_test` on the
 * app's server, never the ones `operon start` serves. Each testing runtime starts from a copy of a
 * template pair (`…_test_tpl_<key>`), built once with Operon's schemas and the app's migrations
 * applied: `CREATE DATABASE … TEMPLATE` copies files, far faster than migrating each time. The key
 * is a hash of every migration, so a changed migration builds a new template and the old is dropped.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import type { Logger } from 'pino';
import type { OperonConfig } from '../config/config-types.js';
import { applyAppMigrations } from '../app-migrations.js';
import { tlsOptions, type ConnectionSettings } from '../database/pools.js';
import { sqlState } from '../database/sqlstate.js';
import { OperonRuntime } from '../runtime.js';
import { APP_DB_MIGRATIONS, SYSTEM_MIGRATIONS } from '../system-db/migrations.generated.js';
import { OperonTestingUsageError } from './testing-errors.js';

/** Postgres's limit on a name, in bytes; a longer one would be cut short, and two could become one. */
const MAX_NAME = 63;
/** "source database is being accessed by other users": a session of the template's builder not yet gone. */
const OBJECT_IN_USE = '55006';
/** "permission denied to create database": a role without CREATEDB. */
const INSUFFICIENT_PRIVILEGE = '42501';
/** The comment on every test database the testing runtime makes: only a database with it is dropped. */
const TEST_COPY_MARK = 'operon testing runtime copy';

/**
 * The test name of `database`. Test files run in parallel workers each get their own
 * (`_test_2`, `_test_3`, …; the first worker, or a run without workers, has `_test`).
 */
export function testDatabaseName(database: string): string {
  const worker = process.env.VITEST_POOL_ID ?? process.env.JEST_WORKER_ID;
  const name = worker === undefined || worker === '1' ? `${database}_test` : `${database}_test_${worker}`;
  // Room for the template's suffix too (and so for the claim database's). Postgres counts bytes.
  if (Buffer.byteLength(name) + '_tpl_'.length + 12 > MAX_NAME) {
    throw new OperonTestingUsageError('createTestingRuntime', `the database name "${database}" is too long for its test copies (keep it to ${MAX_NAME - 30} bytes)`);
  }
  return name;
}

/** `config` on other databases; the password stays as loadConfig keeps it, out of any spread or log. */
function onDatabases(config: OperonConfig, userDatabase: string, systemDatabase: string): OperonConfig {
  const database = { ...config.database, user_database: userDatabase, system_database: systemDatabase };
  Object.defineProperty(database, 'password', { value: config.database.password, enumerable: false });
  return { ...config, database };
}

/** `config` on the test databases, under `executorId`. */
export function testConfigOf(config: OperonConfig, executorId: string): OperonConfig {
  const onTest = onDatabases(config, testDatabaseName(config.database.user_database), testDatabaseName(config.database.system_database));
  return { ...onTest, runtimeConfig: { ...config.runtimeConfig, executorId } };
}

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** A client on the server's `postgres` database (or `database`); the caller ends it. */
export async function adminClient(connection: ConnectionSettings, database = 'postgres'): Promise<pg.Client> {
  const client = new pg.Client({
    host: connection.host,
    port: connection.port,
    user: connection.user,
    password: connection.password,
    ssl: tlsOptions(connection.ssl, connection.sslrootcert),
    connectionTimeoutMillis: connection.connectionTimeoutMillis,
    database,
  });
  try {
    await client.connect();
  } catch (error) {
    // A refused login leaves the socket open until the client is ended.
    await client.end().catch(() => undefined);
    throw error;
  }
  return client;
}

/** What the template is built from: Operon's schemas and the app's migration files. */
function templateKey(migrationsDir: string): string {
  const hash = createHash('sha256');
  for (const migration of [...SYSTEM_MIGRATIONS, ...APP_DB_MIGRATIONS]) hash.update(`${migration.version}\0${migration.sql}\0`);
  let files: string[] = [];
  try {
    files = readdirSync(migrationsDir).filter((name) => name.endsWith('.sql')).sort();
  } catch {
    // No folder: no app migrations.
  }
  for (const name of files) hash.update(`${name}\0${readFileSync(join(migrationsDir, name))}\0`);
  return hash.digest('hex').slice(0, 12);
}

async function databaseExists(admin: pg.Client, name: string): Promise<boolean> {
  const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1 AND datistemplate', [name]);
  return (rowCount ?? 0) > 0;
}

/** Drops `name` if it exists (ending its sessions). */
async function dropDatabase(admin: pg.Client, name: string): Promise<void> {
  await admin.query(`ALTER DATABASE ${quote(name)} WITH IS_TEMPLATE false`).catch(() => undefined);
  await admin.query(`DROP DATABASE IF EXISTS ${quote(name)} WITH (FORCE)`);
}

/**
 * Ends the sessions still open on a finished template: a database with a session is not copied
 * (55006). Its builder's are gone, but a transaction pooler keeps its server sessions open after
 * their client left (PgBouncer for server_idle_timeout, 10 minutes by default), and each copy
 * would wait for them. Only sessions this role may end: a stranger's stays, and the copy says so.
 */
async function endTemplateSessions(admin: pg.Client, template: string): Promise<void> {
  await admin.query(
    `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() AND pg_has_role(usesysid, 'MEMBER')`,
    [template],
  );
}

/** Runs `statement`, again while the database it copies still has a session closing (a few ms). */
async function whileInUse(admin: pg.Client, statement: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await admin.query(statement);
      return;
    } catch (error) {
      if (sqlState(error) !== OBJECT_IN_USE || attempt >= 100) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

/**
 * The template pair for `config` (its test databases' names) and `migrationsDir`: built now if
 * missing, under an advisory lock (taken on the claim's session) so that parallel workers build it once.
 */
async function ensureTemplates(
  admin: pg.Client,
  claim: TestDatabasesClaim,
  config: OperonConfig,
  migrationsDir: string,
  logger: Logger,
): Promise<{ app: string; system: string }> {
  const key = templateKey(migrationsDir);
  const app = `${config.database.user_database}_tpl_${key}`;
  const system = `${config.database.system_database}_tpl_${key}`;
  if ((await databaseExists(admin, app)) && (await databaseExists(admin, system))) return { app, system };
  return claim.underLock(templateLockKey(config.database.user_database, config.database.system_database), async () => {
    // Another worker may have built it while this one waited.
    if ((await databaseExists(admin, app)) && (await databaseExists(admin, system))) return { app, system };
    const { rows } = await admin.query<{ datname: string }>(
      `SELECT datname FROM pg_database WHERE starts_with(datname, $1 || '_tpl_') OR starts_with(datname, $2 || '_tpl_')`,
      [config.database.user_database, config.database.system_database],
    );
    // Templates of earlier migrations, and a half-built one of these (a build cut off).
    for (const { datname } of rows) await dropDatabase(admin, datname);
    await admin.query(`CREATE DATABASE ${quote(app)}`);
    await admin.query(`CREATE DATABASE ${quote(system)}`);
    const builder = await OperonRuntime.create({
      config: onDatabases(config, app, system),
      classes: [],
      logger,
      executes: false,
    });
    try {
      await applyAppMigrations(builder.appPool, migrationsDir, logger);
    } finally {
      await builder.destroy({ stopEmbedded: false });
    }
    // Marked last: a template is complete once it is marked.
    await admin.query(`ALTER DATABASE ${quote(app)} WITH IS_TEMPLATE true`);
    await admin.query(`ALTER DATABASE ${quote(system)} WITH IS_TEMPLATE true`);
    logger.info({ app, system }, 'built the test databases\' template');
    return { app, system };
  });
}

/**
 * Makes the test databases of `config` copies of the template: fresh ones (the old dropped,
 * their sessions ended) when `fresh`, else only those missing.
 */
export async function prepareTestDatabases(
  connection: ConnectionSettings,
  claim: TestDatabasesClaim,
  config: OperonConfig,
  migrationsDir: string,
  fresh: boolean,
  logger: Logger,
): Promise<void> {
  const admin = await adminClient(connection);
  try {
    // Test data need not survive a power cut: a copy that waits for no disk flush is several times faster.
    await admin.query('SET synchronous_commit = off');
    const templates = await ensureTemplates(admin, claim, config, migrationsDir, logger);
    const pairs = [
      [config.database.user_database, templates.app],
      [config.database.system_database, templates.system],
    ] as const;
    // Both checked before either is dropped: a refusal leaves everything as it was.
    const existing = new Set<string>();
    for (const [database] of pairs) {
      const { rows } = await admin.query<{ mark: string | null }>(`SELECT shobj_description(oid, 'pg_database') AS mark FROM pg_database WHERE datname = $1`, [database]);
      if (rows.length === 0) continue;
      if (rows[0]!.mark !== TEST_COPY_MARK) {
        throw new OperonTestingUsageError(
          'createTestingRuntime',
          `the database "${database}" has the name of a test copy but was not made by the testing runtime (it may be another app's data), so it is neither dropped nor used: give this app's database another name, or drop "${database}" yourself if it is a test copy of an earlier version`,
        );
      }
      existing.add(database);
    }
    for (const [database, template] of pairs) {
      if (fresh) await admin.query(`DROP DATABASE IF EXISTS ${quote(database)} WITH (FORCE)`);
      else if (existing.has(database)) continue;
      await endTemplateSessions(admin, template);
      await whileInUse(admin, `CREATE DATABASE ${quote(database)} TEMPLATE ${quote(template)}`);
      // The mark that lets a later run drop it: a database of this name without it is someone else's.
      await admin.query(`COMMENT ON DATABASE ${quote(database)} IS '${TEST_COPY_MARK}'`);
      // Nor do the tests' own commits (each workflow step's): visible at once all the same.
      await admin.query(`ALTER DATABASE ${quote(database)} SET synchronous_commit = off`);
    }
  } finally {
    await admin.end().catch(() => undefined);
  }
}

/**
 * Ends every session of this runtime (by its application_name), as the death of its process would;
 * with `busyOnly`, only those running a statement or inside a transaction.
 */
export async function endSessions(connection: ConnectionSettings, sessionTag: string, busyOnly = false): Promise<void> {
  const admin = await adminClient(connection);
  try {
    await admin.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()${busyOnly ? " AND state <> 'idle'" : ''}`,
      [sessionTag],
    );
  } finally {
    await admin.end().catch(() => undefined);
  }
}

/** The advisory lock keys of a testing runtime's claim on its test databases, and of its template's build. */
export function testDatabasesLockKey(databases: string): string {
  return `operon-testing-databases:${databases}`;
}
export function templateLockKey(userDatabase: string, systemDatabase: string): string {
  return `operon-test-template:${userDatabase}:${systemDatabase}`;
}

/** A testing runtime's claim on its test databases: a server session of its own, holding the lock. */
export interface TestDatabasesClaim {
  /** Runs `work` under the advisory lock `key` as well, waiting for it; taken and let go on the claim's session. */
  underLock<T>(key: string, work: () => Promise<T>): Promise<T>;
  release(): Promise<void>;
}

/** The database a claim holds its session (and its locks) on: one of its own, so that behind a pooler it has a pool of its own. */
export function claimDatabaseName(systemTestDatabase: string): string {
  return `${systemTestDatabase}_claim`;
}

/** Makes the (empty) claim database if it is missing; processes that make it at once are both fine. */
async function ensureClaimDatabase(connection: ConnectionSettings, name: string): Promise<void> {
  const admin = await adminClient(connection);
  try {
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if ((rowCount ?? 0) > 0) return;
    // From template0: a session another client holds on template1 does not stand in the way.
    const made = await admin.query(`CREATE DATABASE ${quote(name)} TEMPLATE template0`).then(() => true, (error: unknown) => {
      if (sqlState(error) === INSUFFICIENT_PRIVILEGE) {
        throw new OperonTestingUsageError(
          'createTestingRuntime',
          `the database "${name}", on which the testing runtime holds its claim on the test databases, does not exist, and the role "${connection.user}" may not create it (it lacks CREATEDB): make it once as a role that may (CREATE DATABASE ${quote(name)}), or grant CREATEDB`,
        );
      }
      // Made by another process meanwhile (42P04 duplicate_database, or 23505 on pg_database's index).
      if (sqlState(error) !== '42P04' && sqlState(error) !== '23505') throw error;
      return false;
    });
    // Only by its maker: a comment takes the database's owner, which another role's process may be.
    if (made) await admin.query(`COMMENT ON DATABASE ${quote(name)} IS '${TEST_COPY_MARK}'`);
  } finally {
    await admin.end().catch(() => undefined);
  }
}

/**
 * Claims the test databases `databases` for this process's testing runtime, on the server, for
 * as long as the claim is not released: a testing runtime of another process on the same config
 * (a second test run of the same app) would drop them under this one.
 *
 * Held by a session-level advisory lock on a client of its own, which the server lets go when the
 * client or its process goes. Behind a transaction pooler a session's lock would stay with the
 * server session, which the pooler keeps after its client left (PgBouncer for
 * server_idle_timeout) and lends to the next client, and an unlock could reach another session.
 * So there the client stays in a transaction while it holds the claim: a client in a transaction
 * keeps its one server session, and the pooler closes that session when the client goes
 * mid-transaction, locks and all. That session is on `claimDatabase` (claimDatabaseName), an empty
 * database of the claim's own: a pooler's pools are per database, so the claim takes no server
 * connection from the pool of `postgres` (where the test databases are made and dropped) nor from
 * those of the test databases (where the runtime runs), and a pool of one connection each is enough.
 * Straight to the server it is held there too: an advisory lock is its database's own, and a run
 * through the pooler and one straight to the server of the same app must refuse each other.
 */
export async function claimTestDatabases(connection: ConnectionSettings, databases: string, claimDatabase: string): Promise<TestDatabasesClaim> {
  const pinned = connection.pooler === 'transaction';
  // Pooler or not: an advisory lock is its database's own, so a run through the pooler and one
  // straight to the server must take theirs in the same database to refuse each other.
  await ensureClaimDatabase(connection, claimDatabase);
  const client = await adminClient(connection, claimDatabase);
  // An idle client that loses its server must not crash the process.
  client.on('error', () => undefined);
  let held = false;
  try {
    if (pinned) await client.query('BEGIN');
    const { rows } = await client.query<{ held: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS held', [testDatabasesLockKey(databases)]);
    held = rows[0]?.held === true;
  } finally {
    if (!held) await client.end().catch(() => undefined);
  }
  if (!held) {
    throw new OperonTestingUsageError('createTestingRuntime', `another process's testing runtime runs on ${databases}: end it first (or run the tests in one process)`);
  }
  return {
    async underLock(key, work) {
      await client.query('SELECT pg_advisory_lock(hashtext($1))', [key]);
      try {
        return await work();
      } finally {
        await client.query('SELECT pg_advisory_unlock(hashtext($1))', [key]).catch(() => undefined);
      }
    },
    async release() {
      // The session's locks end with it (behind a pooler, its server session is closed as well).
      await client.end().catch(() => undefined);
    },
  };
}
