/**
 * A transaction's `ctx.client` kept past its return (a floating promise, a timer, a saved
 * reference) still queried the connection after Operon had committed and given it back to the
 * pool: the write landed outside any transaction, or inside the next transaction that
 * connection served. Once the attempt is over the client refuses every query.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Knex } from 'knex';
import type { Kysely } from 'kysely';
import { Transaction, type TransactionClient, type TransactionContext } from '@operon/sdk';
import { createTestingRuntime, type TestingRuntime } from '@operon/runtime';
import { writeAppDir, type AppDir } from '../helpers/app-dir.js';

interface DB {
  items: { id: number; workflow: string };
}

let kept: unknown;

class Keeps {
  @Transaction()
  static async keep(ctx: TransactionContext<unknown>): Promise<void> {
    kept = ctx.client;
  }
}

const late: Record<string, (client: unknown, uuid: string) => Promise<unknown>> = {
  pg: (client, uuid) => (client as TransactionClient).query('INSERT INTO items (workflow) VALUES ($1)', [uuid]),
  // knex queries pg through its callback form.
  knex: (client, uuid) => (client as Knex)('items').insert({ workflow: uuid }),
  kysely: (client, uuid) => (client as Kysely<DB>).insertInto('items').values({ workflow: uuid } as never).execute(),
};

describe.each(['pg', 'knex', 'kysely'])('database.client %s', (client) => {
  let app: AppDir;
  let testRuntime: TestingRuntime;
  beforeAll(async () => {
    app = writeAppDir(`rev_late_${client}`, { database: { client }, migrations: { '001_items.sql': 'CREATE TABLE items (id SERIAL PRIMARY KEY, workflow TEXT NOT NULL);' }, logLevel: 'error' });
    testRuntime = await createTestingRuntime([Keeps], app.configPath);
  });
  afterAll(async () => {
    await testRuntime?.destroy();
    app?.remove();
  });

  it('refuses a query through ctx.client after the transaction returned', async () => {
    const uuid = randomUUID();
    await testRuntime.invoke(Keeps, uuid).keep();
    await expect(late[client]!(kept, uuid)).rejects.toMatchObject({ code: 'OPERON_ERR_TRANSACTION_ENDED' });
    expect(await testRuntime.queryUserDB('SELECT id FROM items WHERE workflow = $1', uuid)).toEqual([]);
  });
});
