/**
 * What a transaction's `ctx.client` is (`database.client`): `pg`'s client, or a knex, kysely or
 * drizzle handle bound to the one connection Operon opened BEGIN on. The library never gets a pool
 * or a connection of its own, so every query it sends is part of Operon's transaction, and the
 * COMMIT that records the operation's output commits the library's writes with it.
 *
 * The libraries are the app's, loaded only when configured (optional peer dependencies of the
 * runtime): a missing one stops the start with the package to install.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type pg from 'pg';
import { OperonDatabaseClientMissingError, OperonNestedTransactionError, OperonTransactionEndedError, type TransactionClient } from '@operon/sdk';
import type { DatabaseClientKind } from '../config/config-types.js';

/** Makes the app's `ctx.client` for one attempt of a transaction, over that attempt's connection (as lent by `lendConnection`). */
export type BindTransactionClient = (connection: pg.PoolClient) => unknown;

/** Whose connection is lent, and what to do (log) when a query comes after the transaction ended. */
export interface LoanOrigin {
  readonly transaction: string;
  readonly workflowUUID: string;
  onRefused(error: OperonTransactionEndedError): void;
}

/**
 * The attempt's connection as the app's client sees it: every query passes through until the
 * attempt ends, then each is refused. A client kept past the transaction's return (a floating
 * promise, a timer) would otherwise write on a connection back in the pool: outside any
 * transaction, or inside the next one it serves. Nor can the app release Operon's connection.
 * A refused query's promise is marked handled: a floating one nobody awaits must not end the
 * process (Node ends it on an unhandled rejection); `origin.onRefused` says so instead.
 */
export function lendConnection(connection: pg.PoolClient, origin?: LoanOrigin): { readonly lent: pg.PoolClient; end(): void } {
  let ended = false;
  const query = (...args: unknown[]): unknown => {
    if (!ended) return (connection.query as (...a: unknown[]) => unknown)(...args);
    const error = new OperonTransactionEndedError('query', origin);
    origin?.onRefused(error);
    const callback = args[args.length - 1];
    if (typeof callback === 'function') {
      // The callback form (knex's): answered as pg answers, never synchronously.
      queueMicrotask(() => (callback as (error: Error) => void)(error));
      return undefined;
    }
    const refused = Promise.reject(error);
    refused.catch(() => undefined);
    return refused;
  };
  const release = () => {
    throw new OperonTransactionEndedError('release Operon\'s connection', origin);
  };
  const lent = new Proxy(connection, {
    get(target, property) {
      if (property === 'query') return query;
      if (property === 'release') return release;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { lent, end: () => (ended = true) };
}

/** The query method alone: the app cannot release, end or re-BEGIN Operon's connection. */
export const bindPg: BindTransactionClient = (connection): TransactionClient => ({
  query: (text, values) => connection.query(text, values as unknown[]) as never,
});

/** The module each client is loaded from, and the package that provides it. */
const MODULES: Record<Exclude<DatabaseClientKind, 'pg'>, { readonly specifier: string; readonly packageName: string }> = {
  knex: { specifier: 'knex', packageName: 'knex' },
  kysely: { specifier: 'kysely', packageName: 'kysely' },
  drizzle: { specifier: 'drizzle-orm/node-postgres', packageName: 'drizzle-orm' },
};

/** Loads the configured library once, at start; the binder it returns is cheap per transaction. */
export async function loadTransactionClient(kind: DatabaseClientKind, appDir: string): Promise<BindTransactionClient> {
  if (kind === 'pg') return bindPg;
  const { specifier, packageName } = MODULES[kind];
  const library = await importFromApp(kind, specifier, packageName, appDir);
  const missing = (what: string) => new OperonDatabaseClientMissingError(kind, packageName, `it has no ${what}`);
  switch (kind) {
    case 'knex': {
      const knex = (library['knex'] ?? library['default']) as KnexFactory | undefined;
      if (typeof knex !== 'function') throw missing('knex export');
      return knexBinder(knex);
    }
    case 'kysely': {
      const { Kysely, PostgresDialect } = library as { Kysely?: new (config: object) => object; PostgresDialect?: new (config: object) => object };
      if (typeof Kysely !== 'function' || typeof PostgresDialect !== 'function') throw missing('Kysely or PostgresDialect export');
      return kyselyBinder(Kysely, PostgresDialect);
    }
    case 'drizzle': {
      const { drizzle } = library as { drizzle?: (config: { client: pg.PoolClient }) => object };
      if (typeof drizzle !== 'function') throw missing('drizzle export');
      return (connection) => {
        const db = drizzle({ client: connection }) as { session?: object };
        // db.transaction() begins through its session, which the app reaches too (db.session, db._.session: one object).
        if (typeof db.session === 'object' && db.session !== null) refuseTransactions(db.session, 'drizzle', ['transaction']);
        return refuseTransactions(db, 'drizzle', ['transaction']);
      };
    }
  }
}

/**
 * Through the runtime's own resolution first (an optional peer dependency resolves to the app's
 * copy), then from the app's folder (an app that links the runtime from elsewhere).
 */
export async function importFromApp(kind: string, specifier: string, packageName: string, appDir: string): Promise<Record<string, unknown>> {
  try {
    return (await import(specifier)) as Record<string, unknown>;
  } catch (error) {
    if (!isNotFound(error)) throw new OperonDatabaseClientMissingError(kind, packageName, `importing it threw: ${(error as Error).message}`);
  }
  let path: string;
  try {
    path = createRequire(join(appDir, 'package.json')).resolve(specifier);
  } catch {
    throw new OperonDatabaseClientMissingError(kind, packageName, `it is not installed where the app is, ${appDir}`);
  }
  const module = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  // A CommonJS build imported by path: its exports are the default export's properties.
  const fallback = module['default'];
  return typeof fallback === 'object' && fallback !== null ? { ...(fallback as Record<string, unknown>), ...module } : module;
}

function isNotFound(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
}

/** Replaces the library's own transaction methods: its BEGIN would be ignored and its COMMIT would end Operon's transaction early. */
function refuseTransactions<T extends object>(handle: T, kind: string, methods: readonly string[]): T {
  for (const method of methods) {
    Object.defineProperty(handle, method, {
      value: () => {
        throw new OperonNestedTransactionError(kind);
      },
    });
  }
  return handle;
}

// The few parts of knex used here (its own types are the app's, not the runtime's).
type KnexFactory = (config: Record<string, unknown>) => { client: { constructor: KnexClientClass } };
type KnexClientClass = new (config: Record<string, unknown>) => { config: Record<string, unknown> };

/**
 * A knex of the `pg` dialect whose one connection is the transaction's: its client class hands
 * that connection out instead of acquiring one from a pool (a knex made without `connection`
 * has no pool and loads no driver).
 */
function knexBinder(knex: KnexFactory): BindTransactionClient {
  const PgClient = knex({ client: 'pg' }).client.constructor;
  class TransactionBoundClient extends PgClient {
    acquireConnection(): Promise<unknown> {
      return Promise.resolve(this.config['operonConnection']);
    }
    releaseConnection(): Promise<void> {
      return Promise.resolve();
    }
    transaction(): never {
      throw new OperonNestedTransactionError('knex');
    }
  }
  return (connection) => knex({ client: TransactionBoundClient, operonConnection: connection });
}

/** A Kysely whose pool is the transaction's one connection, never released nor ended by Kysely. */
function kyselyBinder(Kysely: new (config: object) => object, PostgresDialect: new (config: object) => object): BindTransactionClient {
  return (connection) => {
    const lent = { query: connection.query.bind(connection), release: () => undefined };
    const pool = { connect: () => Promise.resolve(lent), end: () => Promise.resolve() };
    const dialect = new PostgresDialect({ pool }) as { createDriver(): { beginTransaction: () => Promise<never> } };
    // Every Kysely made from this one (withSchema, withPlugin, connection()) has its own
    // transaction(), but all begin through the dialect's driver: refused there.
    const createDriver = dialect.createDriver.bind(dialect);
    dialect.createDriver = () => Object.assign(createDriver(), { beginTransaction: () => Promise.reject(new OperonNestedTransactionError('kysely')) });
    return refuseTransactions(new Kysely({ dialect }), 'kysely', ['transaction', 'startTransaction']);
  };
}
