/**
 * `database.client`: knex, kysely and drizzle as a transaction's `ctx.client`, on the real
 * Postgres. For each library: its writes commit in the same Postgres transaction as the
 * operation's record (the rows' xmin is the record's), a thrown error rolls both back, a
 * connection lost before COMMIT takes the attempt's writes with it and the transaction runs again
 * once, a crash right after COMMIT does not run it again, and the library's own `transaction()`
 * is refused rather than allowed to COMMIT Operon's transaction early.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Knex } from 'knex';
import { sql as kyselySql, type Kysely } from 'kysely';
import { sql as drizzleSql } from 'drizzle-orm';
import type { NodePgDatabase } from 'drizzle-orm/node-postgres';
import { pgTable, serial, text } from 'drizzle-orm/pg-core';
import { OperonShutdownError, Transaction, Workflow, type TransactionContext, type WorkflowContext } from '@operon/sdk';
import { createTestingRuntime, type TestingRuntime } from '@operon/runtime';
import { importFromApp } from '../../packages/runtime/src/database/transaction-clients.js';
import { writeAppDir, type AppDir } from '../helpers/app-dir.js';

const MIGRATION = 'CREATE TABLE items (id SERIAL PRIMARY KEY, workflow TEXT NOT NULL, label TEXT NOT NULL);';

/** What a transaction saw of its own session, through the library. */
interface Session {
  readonly txid: string;
  readonly pid: number;
}
const SESSION_SQL = 'SELECT (txid_current() % 4294967296)::text AS txid, pg_backend_pid() AS pid';

/** The one library-specific part of each app below: an insert and a raw query through `ctx.client`. */
interface Library<C> {
  insert(client: C, workflow: string, label: string): Promise<unknown>;
  session(client: C): Promise<Session>;
  nested(client: C): Promise<unknown>;
}

const knexLibrary: Library<Knex> = {
  insert: (db, workflow, label) => db('items').insert({ workflow, label }),
  session: async (db) => ((await db.raw(SESSION_SQL)) as { rows: Session[] }).rows[0]!,
  nested: (db) => db.transaction(async (trx) => trx('items').insert({ workflow: 'nested', label: 'nested' })),
};

interface KyselyDB {
  items: { id: number; workflow: string; label: string };
}
const kyselyLibrary: Library<Kysely<KyselyDB>> = {
  insert: (db, workflow, label) => db.insertInto('items').values({ workflow, label } as never).execute(),
  session: async (db) => (await kyselySql<Session>`SELECT (txid_current() % 4294967296)::text AS txid, pg_backend_pid() AS pid`.execute(db)).rows[0]!,
  nested: (db) => db.transaction().execute(async (trx) => trx.insertInto('items').values({ workflow: 'nested', label: 'nested' } as never).execute()),
};

const items = pgTable('items', { id: serial('id').primaryKey(), workflow: text('workflow').notNull(), label: text('label').notNull() });
const drizzleLibrary: Library<NodePgDatabase> = {
  insert: (db, workflow, label) => db.insert(items).values({ workflow, label }),
  session: async (db) => (await db.execute<{ txid: string; pid: number }>(drizzleSql.raw(SESSION_SQL))).rows[0]!,
  nested: (db) => db.transaction(async (trx) => trx.insert(items).values({ workflow: 'nested', label: 'nested' })),
};

/** Set by a test: called with the backend of the transaction's first attempt, between its two statements. */
let onFirstAttempt: ((pid: number) => Promise<void>) | undefined;
let attempts = 0;

/** The same operations for every library; each class below binds them to one. */
function operations<C>(library: Library<C>) {
  return {
    async add(ctx: TransactionContext<C>, label: string): Promise<Session> {
      attempts++;
      await library.insert(ctx.client, ctx.workflowUUID, label);
      return library.session(ctx.client);
    },
    async addThenThrow(ctx: TransactionContext<C>, label: string): Promise<void> {
      await library.insert(ctx.client, ctx.workflowUUID, label);
      throw new Error(`refused ${label}`);
    },
    async addThenLoseConnection(ctx: TransactionContext<C>, label: string): Promise<number> {
      attempts++;
      await library.insert(ctx.client, ctx.workflowUUID, label);
      const { pid } = await library.session(ctx.client);
      const lose = onFirstAttempt;
      onFirstAttempt = undefined;
      await lose?.(pid);
      // On the first attempt the connection is gone: this fails, and the attempt's insert with it.
      await library.insert(ctx.client, ctx.workflowUUID, `${label}-second`);
      return attempts;
    },
    async nested(ctx: TransactionContext<C>): Promise<unknown> {
      return library.nested(ctx.client);
    },
  };
}

const knexOps = operations(knexLibrary);
class KnexItems {
  @Transaction() static add(ctx: TransactionContext<Knex>, label: string) { return knexOps.add(ctx, label); }
  @Transaction() static addThenThrow(ctx: TransactionContext<Knex>, label: string) { return knexOps.addThenThrow(ctx, label); }
  @Transaction() static addThenLoseConnection(ctx: TransactionContext<Knex>, label: string) { return knexOps.addThenLoseConnection(ctx, label); }
  @Transaction() static nested(ctx: TransactionContext<Knex>) { return knexOps.nested(ctx); }
  @Workflow() static async twice(ctx: WorkflowContext, label: string): Promise<Session> {
    await ctx.invoke(KnexItems).add(`${label}-1`);
    return ctx.invoke(KnexItems).add(`${label}-2`);
  }
}

const kyselyOps = operations(kyselyLibrary);
class KyselyItems {
  @Transaction() static add(ctx: TransactionContext<Kysely<KyselyDB>>, label: string) { return kyselyOps.add(ctx, label); }
  @Transaction() static addThenThrow(ctx: TransactionContext<Kysely<KyselyDB>>, label: string) { return kyselyOps.addThenThrow(ctx, label); }
  @Transaction() static addThenLoseConnection(ctx: TransactionContext<Kysely<KyselyDB>>, label: string) { return kyselyOps.addThenLoseConnection(ctx, label); }
  @Transaction() static nested(ctx: TransactionContext<Kysely<KyselyDB>>) { return kyselyOps.nested(ctx); }
  @Workflow() static async twice(ctx: WorkflowContext, label: string): Promise<Session> {
    await ctx.invoke(KyselyItems).add(`${label}-1`);
    return ctx.invoke(KyselyItems).add(`${label}-2`);
  }
}

const drizzleOps = operations(drizzleLibrary);
class DrizzleItems {
  @Transaction() static add(ctx: TransactionContext<NodePgDatabase>, label: string) { return drizzleOps.add(ctx, label); }
  @Transaction() static addThenThrow(ctx: TransactionContext<NodePgDatabase>, label: string) { return drizzleOps.addThenThrow(ctx, label); }
  @Transaction() static addThenLoseConnection(ctx: TransactionContext<NodePgDatabase>, label: string) { return drizzleOps.addThenLoseConnection(ctx, label); }
  @Transaction() static nested(ctx: TransactionContext<NodePgDatabase>) { return drizzleOps.nested(ctx); }
  @Workflow() static async twice(ctx: WorkflowContext, label: string): Promise<Session> {
    await ctx.invoke(DrizzleItems).add(`${label}-1`);
    return ctx.invoke(DrizzleItems).add(`${label}-2`);
  }
}

type ItemsClass = typeof KnexItems | typeof KyselyItems | typeof DrizzleItems;

describe.each([
  { client: 'knex', Items: KnexItems as ItemsClass },
  { client: 'kysely', Items: KyselyItems as ItemsClass },
  { client: 'drizzle', Items: DrizzleItems as ItemsClass },
])('database.client: $client', ({ client, Items }) => {
  let app: AppDir;
  let testRuntime: TestingRuntime;
  // The classes share their method names and types: the invoke proxy of one serves for each.
  const invoke = (uuid?: string) => testRuntime.invoke(Items as typeof KnexItems, uuid);

  beforeAll(async () => {
    // 'error': the connection dropped on purpose below is logged as a warning.
    app = writeAppDir(`orm_${client}`, { database: { client }, migrations: { '001_items.sql': MIGRATION }, logLevel: 'error' });
    testRuntime = await createTestingRuntime([Items], app.configPath);
  });
  afterAll(async () => {
    await testRuntime?.destroy();
    app?.remove();
  });

  const labelsOf = async (workflow: string): Promise<string[]> =>
    (await testRuntime.queryUserDB<{ label: string }>('SELECT label FROM items WHERE workflow = $1 ORDER BY id', workflow)).map((r) => r.label);
  const recordsOf = (workflow: string) =>
    testRuntime.queryUserDB<{ function_id: number; xmin: string }>(
      'SELECT function_id, xmin::text AS xmin FROM operon.transaction_outputs WHERE workflow_uuid = $1 ORDER BY function_id',
      workflow,
    );

  it("commits the library's writes in the transaction that records the output", async () => {
    const uuid = randomUUID();
    const session = await invoke(uuid).add('one');
    expect(await labelsOf(uuid)).toEqual(['one']);
    const [record] = await recordsOf(uuid);
    // The library's query saw the transaction Operon began; its row and the record share it.
    expect(record?.xmin).toBe(session.txid);
    const [row] = await testRuntime.queryUserDB<{ xmin: string }>('SELECT xmin::text AS xmin FROM items WHERE workflow = $1', uuid);
    expect(row?.xmin).toBe(session.txid);
    // Run again under the same UUID: the record answers, nothing is written twice.
    expect(await invoke(uuid).add('one')).toEqual(session);
    expect(await labelsOf(uuid)).toEqual(['one']);
  });

  it("rolls back the library's writes with the record when the transaction throws", async () => {
    const uuid = randomUUID();
    await expect(invoke(uuid).addThenThrow('doomed')).rejects.toThrow('refused doomed');
    expect(await labelsOf(uuid)).toEqual([]);
    expect(await recordsOf(uuid)).toEqual([]);
  });

  it('loses the writes of an attempt whose connection drops before COMMIT, and runs the transaction again once', async () => {
    const uuid = randomUUID();
    attempts = 0;
    let killed: number | undefined;
    onFirstAttempt = async (pid) => {
      killed = pid;
      await testRuntime.queryUserDB('SELECT pg_terminate_backend($1)', pid);
    };
    expect(await invoke(uuid).addThenLoseConnection('lost')).toBe(2);
    expect(killed).toBeTypeOf('number');
    // The first attempt's insert went over the killed connection: only the second attempt's rows are there.
    expect(await labelsOf(uuid)).toEqual(['lost', 'lost-second']);
    expect(await recordsOf(uuid)).toHaveLength(1);
  });

  it('does not run a committed transaction again after a crash right after its COMMIT', async () => {
    const uuid = randomUUID();
    attempts = 0;
    testRuntime.crashAfter(`${client === 'knex' ? 'KnexItems' : client === 'kysely' ? 'KyselyItems' : 'DrizzleItems'}.add`);
    const handle = await invoke(uuid).twice('crash');
    await expect(handle.getResult()).rejects.toBeInstanceOf(OperonShutdownError);
    expect(await testRuntime.recover()).toBe(1);
    const last = await testRuntime.retrieveWorkflow<Session>(uuid).getResult();
    expect(await labelsOf(uuid)).toEqual(['crash-1', 'crash-2']);
    expect(attempts).toBe(2);
    const records = await recordsOf(uuid);
    expect(records.map((r) => r.function_id)).toEqual([0, 1]);
    expect(records[1]?.xmin).toBe(last.txid);
  });

  it("refuses the library's own transaction(), whose COMMIT would split the writes from the record", async () => {
    const uuid = randomUUID();
    await expect(invoke(uuid).nested()).rejects.toMatchObject({ code: 'OPERON_ERR_TRANSACTION_NESTED' });
    expect(await labelsOf('nested')).toEqual([]);
  });
});

describe('database.client', () => {
  it('names the clients it knows when the config names another', async () => {
    const app = writeAppDir('orm_unknown', { database: { client: 'prisma' } });
    try {
      await expect(createTestingRuntime([], app.configPath)).rejects.toMatchObject({
        code: 'OPERON_ERR_CONFIG_INVALID',
        message: expect.stringMatching(/database\.client.*pg.*knex.*kysely.*drizzle/s),
      });
    } finally {
      app.remove();
    }
  });

  it('names the package to install when the library cannot be found', async () => {
    const app = writeAppDir('orm_missing');
    try {
      await expect(importFromApp('knex', 'operon-no-such-orm', 'operon-no-such-orm', app.dir)).rejects.toMatchObject({
        code: 'OPERON_ERR_DATABASE_CLIENT_MISSING',
        message: `database.client is knex, but the package operon-no-such-orm cannot be loaded (it is not installed where the app is, ${app.dir}): install it in the app (npm install operon-no-such-orm)`,
      });
    } finally {
      app.remove();
    }
  });
});
