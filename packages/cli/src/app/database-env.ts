/**
 * The environment of `database.migrate` / `database.rollback` commands: libpq's variables and
 * `DATABASE_URL` naming the app database, so psql, knex or any Postgres tool works unchanged,
 * on the embedded Postgres too (docs/configuration.md, `database.migrate`).
 */
import type { OperonRuntime } from '@operon/runtime';

export function databaseEnv(runtime: OperonRuntime, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const { host, port, user, password, ssl } = runtime.connection;
  const database = runtime.config.database.user_database;
  return {
    ...base,
    DATABASE_URL: databaseUrl(host, port, user, password, database, ssl),
    PGHOST: host,
    PGPORT: String(port),
    PGUSER: user,
    PGPASSWORD: password,
    PGDATABASE: database,
    PGSSLMODE: ssl ? 'require' : 'disable',
  };
}

function databaseUrl(host: string, port: number, user: string, password: string, database: string, ssl: boolean): string {
  const auth = password === '' ? encodeURIComponent(user) : `${encodeURIComponent(user)}:${encodeURIComponent(password)}`;
  const query = new URLSearchParams({ sslmode: ssl ? 'require' : 'disable' });
  // A Unix socket folder cannot be a URL host; libpq and node-postgres read it from `?host=`.
  if (host.startsWith('/')) query.set('host', host);
  const hostPart = host.startsWith('/') ? '' : host.includes(':') ? `[${host}]` : host;
  return `postgresql://${auth}@${hostPart}:${port}/${encodeURIComponent(database)}?${query.toString()}`;
}
