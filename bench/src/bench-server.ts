/**
 * The one Postgres both frameworks run on: the product's own embedded Postgres, default settings
 * (fsync on), in a temporary folder removed at the end. Statement counting needs
 * `pg_stat_statements` preloaded, which costs a little on every statement; so the timed phases
 * run without it, and the server is restarted with it only for the counting phase.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '@operon/runtime';
import { APP_TABLE_DDL, CEILING_TABLE_DDL } from './workloads.js';

export interface ServerAddress {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
}

export interface BenchServer extends ServerAddress {
  /** 'embedded' (started here) or the URL's host (an existing server). */
  readonly kind: 'embedded' | 'external';
  /** Makes `pg_stat_statements` available (and, on the embedded server, the statement log); false when the server cannot have it. */
  enableStatementStats(): Promise<boolean>;
  /** The embedded server's log, once it logs every statement with its database: a second count. */
  readonly statementLog: string | undefined;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export async function withClient<T>(address: ServerAddress, database: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ host: address.host, port: address.port, user: address.user, password: address.password, database });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

async function statementStatsLoaded(address: ServerAddress): Promise<boolean> {
  return withClient(address, 'postgres', async (client) => {
    const { rows } = await client.query<{ libs: string }>('SELECT current_setting($1) AS libs', ['shared_preload_libraries']);
    if (!rows[0]!.libs.split(',').some((lib) => lib.trim() === 'pg_stat_statements')) return false;
    await client.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    return true;
  });
}

/**
 * `durable: false` turns fsync and synchronous commit off (a `--tiny` run: its figures mean
 * nothing, and on a shared machine its commits otherwise wait on everyone's disk writes).
 */
export async function startBenchServer(log: (line: string) => void, { durable = true }: { durable?: boolean } = {}): Promise<BenchServer> {
  const dir = mkdtempSync(join(tmpdir(), 'operon-bench-pg-'));
  // The server runs as user "postgres" when we are root: it must reach its folder.
  chmodSync(dir, 0o755);
  const dataDir = join(dir, 'pgdata');
  const password = 'operon-bench';
  const port = await freePort();
  let server: EmbeddedPostgres | undefined;
  try {
    server = await startEmbeddedPostgres({ dataDir, port, password });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const address = { host: server.host, port: server.port, user: server.user, password };
  if (!durable) {
    // ALTER SYSTEM: kept through the restart for the statement counts.
    await withClient(address, 'postgres', async (client) => {
      await client.query('ALTER SYSTEM SET fsync = off');
      await client.query('ALTER SYSTEM SET synchronous_commit = off');
      await client.query('SELECT pg_reload_conf()');
    });
  }
  log(`embedded Postgres on 127.0.0.1:${port} (${dataDir})${durable ? '' : ', fsync off'}`);
  let running: EmbeddedPostgres | undefined = server;
  let statementLog: string | undefined;
  return {
    kind: 'embedded',
    ...address,
    get statementLog() {
      return statementLog;
    },
    async enableStatementStats() {
      await withClient(address, 'postgres', async (client) => {
        await client.query("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'");
        // Also log every statement with its database (the embedded server logs beside its data folder).
        await client.query("ALTER SYSTEM SET log_statement = 'all'");
        await client.query("ALTER SYSTEM SET log_line_prefix = '%m [%p] %d '");
      });
      await running?.stop();
      running = undefined;
      running = await startEmbeddedPostgres({ dataDir, port, password });
      statementLog = join(dir, 'postgres.log');
      log('restarted Postgres with pg_stat_statements and log_statement=all for the statement counts');
      return statementStatsLoaded(address);
    },
    async stop() {
      await running?.stop();
      running = undefined;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** An existing server (the unit test's, or one a user points the benchmark at with --database-url). */
export function externalServer(url: string): BenchServer {
  const parsed = new URL(url);
  const address = {
    host: parsed.hostname,
    port: Number(parsed.port || 5432),
    user: decodeURIComponent(parsed.username || 'postgres'),
    password: decodeURIComponent(parsed.password),
  };
  return {
    kind: 'external',
    ...address,
    enableStatementStats: () => statementStatsLoaded(address),
    statementLog: undefined,
    stop: async () => undefined,
  };
}

function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Drops (if left from an earlier run) and creates `databases`; creates the app table in `appDatabase`. */
export async function prepareDatabases(address: ServerAddress, databases: readonly string[], appDatabase: string): Promise<void> {
  await withClient(address, 'postgres', async (client) => {
    for (const name of databases) {
      await client.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(name)} WITH (FORCE)`);
      await client.query(`CREATE DATABASE ${quoteIdentifier(name)}`);
    }
  });
  await withClient(address, appDatabase, async (client) => {
    await client.query(APP_TABLE_DDL);
    await client.query(CEILING_TABLE_DDL);
  });
}

export async function dropDatabases(address: ServerAddress, databases: readonly string[]): Promise<void> {
  await withClient(address, 'postgres', async (client) => {
    for (const name of databases) await client.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(name)} WITH (FORCE)`);
  });
}
