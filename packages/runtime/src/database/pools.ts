import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import pg from 'pg';
import type { Pooler, SslMode } from '../config/config-types.js';
import { SQLSTATE, sqlState } from './sqlstate.js';

export interface ConnectionSettings {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly ssl: SslMode;
  /** A PEM file of the certificate authorities to trust; undefined: the system's. */
  readonly sslrootcert?: string | undefined;
  readonly connectionTimeoutMillis: number;
  /**
   * 'transaction': the server is reached through a transaction-mode pooler, where consecutive
   * transactions of one client may run on different server sessions. Then no statement is
   * prepared by name (a later Bind could reach a session that never saw the Parse) and no session
   * setting is sent at connection time (poolers refuse or drop startup options).
   * @default 'none'
   */
  readonly pooler?: Pooler;
}

/**
 * node-postgres's TLS options for an sslmode, as pg-connection-string maps them: every mode but
 * `disable` and `no-verify` checks the certificate chain (against `sslrootcert` when given) and
 * the host name; `verify-ca` checks the chain only, as in libpq, and only `no-verify` checks nothing.
 */
export function tlsOptions(mode: SslMode, sslrootcert?: string): ConnectionOptions | undefined {
  if (mode === 'disable') return undefined;
  if (mode === 'no-verify') return { rejectUnauthorized: false };
  const ca = sslrootcert === undefined ? undefined : readFileSync(sslrootcert, 'utf8');
  const options: ConnectionOptions = { rejectUnauthorized: true, ...(ca === undefined ? {} : { ca }) };
  if (mode === 'verify-ca') options.checkServerIdentity = () => undefined;
  return options;
}

function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Creates `database` on the server if it does not exist (safe when several processes race). */
export async function ensureDatabaseExists(settings: ConnectionSettings, database: string): Promise<void> {
  const client = new pg.Client({ ...clientOptions(settings), database: 'postgres' });
  try {
    // Inside the try: a refused login leaves the socket open until the client is ended.
    await client.connect();
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (rowCount) return;
    try {
      await client.query(`CREATE DATABASE ${quoteIdentifier(database)}`);
    } catch (error) {
      // Another process created it between our check and our CREATE: that is what we wanted.
      const code = sqlState(error);
      if (code !== SQLSTATE.DUPLICATE_DATABASE && code !== SQLSTATE.UNIQUE_VIOLATION) throw error;
    }
  } finally {
    await client.end().catch(() => undefined);
  }
}

function clientOptions(settings: ConnectionSettings): pg.ClientConfig {
  return {
    host: settings.host,
    port: settings.port,
    user: settings.user,
    password: settings.password,
    ssl: tlsOptions(settings.ssl, settings.sslrootcert),
    connectionTimeoutMillis: settings.connectionTimeoutMillis,
  };
}

/** A client of its own, outside any pool (the notification listener's LISTEN connection). */
export function createClient(settings: ConnectionSettings, database: string, applicationName: string, options?: string): pg.Client {
  // keepAlive: a LISTEN connection is idle for long stretches, and a silently dropped one must be noticed.
  return new pg.Client({ ...clientOptions(settings), database, application_name: applicationName, keepAlive: true, options });
}

/**
 * The application_name of a runtime's pooled sessions behind a transaction pooler. There a server
 * session serves many clients, and keeps the last one's name for the next client that names none
 * (PgBouncer sets it only for a client that named one): a session's name proves nothing of whose
 * transaction it runs. So the runtime's tag (what ends a paused executor's transactions) is set
 * by each of its transactions, `SET LOCAL` in its BEGIN, and is seen only while one is open.
 */
export const POOLED_APPLICATION_NAME = 'operon';

/**
 * A pool on `database`. `readOnly` makes every session read-only on the server's side
 * (default_transaction_read_only), so no statement through it can change anything.
 */
export function createPool(
  settings: ConnectionSettings,
  database: string,
  max: number,
  readOnly = false,
  applicationName?: string,
  tuning: Pick<pg.PoolConfig, 'query_timeout' | 'keepAlive'> = {},
): pg.Pool {
  // pg-pool applies connectionTimeoutMillis both to opening a connection and to waiting for a free
  // one; under a burst the wait is expected and must not fail. So the pool waits without a bound
  // and each new connection carries the timeout itself.
  const connectTimeout = settings.connectionTimeoutMillis;
  const pooled = settings.pooler === 'transaction';
  // Behind a pooler a session setting would stay behind on a server session others then use.
  const readOnlyPerTransaction = readOnly && pooled;
  // Behind a pooler a session's name is no one's in particular (see POOLED_APPLICATION_NAME): each transaction names itself.
  const transactionTag = pooled ? applicationName : undefined;
  class TimedClient extends pg.Client {
    constructor(config?: pg.ClientConfig) {
      // The pool keeps the password non-enumerable, so a spread alone would drop it.
      super({ ...config, password: config?.password, connectionTimeoutMillis: connectTimeout });
      // node-postgres emits 'error' when the connection drops, and pg-pool listens only while a
      // client is idle: a client checked out by `pool.connect()` (a transaction's) would throw
      // the event and crash the process. The loss already fails the client's pending and later
      // queries, and the pool discards it on release.
      this.on('error', () => undefined);
    }

    // One place sees every statement, Operon's and the app's transactions' alike.
    override query(...args: unknown[]): never {
      if (pooled) args[0] = forPooler(args[0], readOnlyPerTransaction, transactionTag);
      return (super.query as (...a: unknown[]) => never)(...args);
    }
  }
  const pool = new pg.Pool({
    ...clientOptions(settings),
    connectionTimeoutMillis: 0,
    Client: TimedClient,
    database,
    application_name: transactionTag === undefined ? applicationName : POOLED_APPLICATION_NAME,
    max,
    idleTimeoutMillis: 30_000,
    options: readOnly && !pooled ? '-c default_transaction_read_only=on' : undefined,
    ...tuning,
  });
  // An idle client that loses its server must not crash the process; the pool replaces it.
  pool.on('error', () => undefined);
  return pool;
}

/**
 * The executor heartbeat's own connection on the system database: a pool of one, apart from the
 * main pool, so that a main pool held whole (long system work, many workflows) never delays a
 * heartbeat past the lease. A heartbeat that gets no answer within `timeoutMs` (a cut network, a
 * server that stopped) fails and its connection is dropped (a pool discards a client whose query
 * failed): the next heartbeat connects anew. Behind a transaction pooler it is one more client,
 * whose statement needs a server session only while it runs (and is never prepared by name).
 */
export function createHeartbeatPool(settings: ConnectionSettings, database: string, applicationName: string, timeoutMs: number): pg.Pool {
  // Connecting counts against the same time: a wait without a bound (connectionTimeoutMillis 0) would stop every later heartbeat.
  const connectTimeout = settings.connectionTimeoutMillis === 0 ? timeoutMs : Math.min(settings.connectionTimeoutMillis, timeoutMs);
  return createPool({ ...settings, connectionTimeoutMillis: connectTimeout }, database, 1, false, applicationName, { query_timeout: timeoutMs, keepAlive: true });
}

/**
 * A statement as a transaction pooler can carry it: unnamed (a named statement is prepared on one
 * server session and may be executed on another), and, for a read-only pool, every transaction
 * begun READ ONLY (the session-wide setting cannot be used there). Statements outside a transaction
 * block are Operon's own reads in a read-only runtime.
 */
function forPooler(statement: unknown, readOnly: boolean, tag: string | undefined): unknown {
  const begin = (text: string) => {
    const modes = readOnly ? readOnlyBegin(text) : text;
    return tag === undefined ? modes : taggedBegin(modes, tag);
  };
  if (typeof statement === 'string') return begin(statement);
  if (statement === null || typeof statement !== 'object') return statement;
  // A Submittable (a cursor, a stream) is passed through as it is.
  if (typeof (statement as { submit?: unknown }).submit === 'function') return statement;
  const config = statement as pg.QueryConfig;
  const unnamed: pg.QueryConfig = { ...config, name: undefined };
  // A statement with parameters is one statement (extended protocol): a BEGIN never has any.
  if (typeof config.text === 'string' && !(config.values && config.values.length > 0)) unnamed.text = begin(config.text);
  return unnamed;
}

/** A BEGIN that also names its transaction (application_name, until it ends) by `tag`. */
function taggedBegin(text: string, tag: string): string {
  const begin = /^\s*(BEGIN|START\s+TRANSACTION)\b/i.exec(text);
  if (!begin) return text;
  const end = text.indexOf(';', begin[0].length);
  const set = `SET LOCAL application_name = '${tag.replace(/'/g, "''")}'`;
  return end === -1 ? `${text}; ${set}` : `${text.slice(0, end)}; ${set}${text.slice(end)}`;
}

function readOnlyBegin(text: string): string {
  const begin = /^\s*(BEGIN|START\s+TRANSACTION)\b/i.exec(text);
  if (!begin) return text;
  // Only the BEGIN itself: what follows a semicolon is another statement.
  const end = text.indexOf(';', begin[0].length);
  const modes = text.slice(begin[0].length, end === -1 ? undefined : end).replace(/\bREAD\s+WRITE\b/gi, 'READ ONLY');
  const after = end === -1 ? '' : text.slice(end);
  return /\bREAD\s+ONLY\b/i.test(modes) ? `${begin[0]}${modes}${after}` : `${begin[0]} READ ONLY${modes}${after}`;
}
