/**
 * The environment of `database.migrate` / `database.rollback` commands: libpq's variables and
 * `DATABASE_URL` naming the app database, so psql, knex or any Postgres tool works unchanged,
 * on the embedded Postgres too (its generated password included).
 */
import type { OperonRuntime } from '@operon/runtime';

/**
 * The sslmode a command is told: the configured one. `no-verify` is node-postgres's alone; libpq
 * (psql) refuses it, and its `require` is the same thing there (TLS, nothing checked).
 */
function libpqSslMode(mode: OperonRuntime['connection']['ssl']): string {
  return mode === 'no-verify' ? 'require' : mode;
}

export function databaseEnv(runtime: OperonRuntime, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const { host, port, user, password, ssl, sslrootcert } = runtime.connection;
  const database = runtime.config.database.user_database;
  const sslmode = libpqSslMode(ssl);
  const env: NodeJS.ProcessEnv = {
    ...base,
    DATABASE_URL: databaseUrl({ host, port, user, password, database, sslmode, sslrootcert }),
    PGHOST: host,
    PGPORT: String(port),
    PGUSER: user,
    PGPASSWORD: password,
    PGDATABASE: database,
    PGSSLMODE: sslmode,
  };
  // Not inherited from this process's environment when the config names none: the command must
  // trust what Operon trusts.
  if (sslrootcert !== undefined) env.PGSSLROOTCERT = sslrootcert;
  else delete env.PGSSLROOTCERT;
  return env;
}

interface UrlParts {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  sslmode: string;
  sslrootcert: string | undefined;
}

function databaseUrl({ host, port, user, password, database, sslmode, sslrootcert }: UrlParts): string {
  const auth = password === '' ? encodeURIComponent(user) : `${encodeURIComponent(user)}:${encodeURIComponent(password)}`;
  const query = new URLSearchParams({ sslmode });
  if (sslrootcert !== undefined) query.set('sslrootcert', sslrootcert);
  // A Unix socket folder cannot be a URL host; libpq and node-postgres read it from `?host=`.
  if (host.startsWith('/')) query.set('host', host);
  const hostPart = host.startsWith('/') ? '' : host.includes(':') ? `[${host}]` : host;
  return `postgresql://${auth}@${hostPart}:${port}/${encodeURIComponent(database)}?${query.toString()}`;
}
