/**
 * Kysely's `withSchema`, `withPlugin` and `connection()` hand out new Kysely instances: their
 * `transaction()` was not refused, so its BEGIN was ignored and its COMMIT ended Operon's
 * transaction early. A throw afterwards then left the library's rows committed with no record.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Kysely } from 'kysely';
import { Transaction, type TransactionContext } from '@operon/sdk';
import { createTestingRuntime, type TestingRuntime } from '@operon/runtime';
import { writeAppDir, type AppDir } from '../helpers/app-dir.js';

interface DB {
  items: { id: number; workflow: string };
}

class Clones {
  @Transaction()
  static async throughWithSchema(ctx: TransactionContext<Kysely<DB>>): Promise<void> {
    await ctx.client.withSchema('public').transaction().execute((trx) => trx.insertInto('items').values({ workflow: ctx.workflowUUID } as never).execute());
    throw new Error('after the nested transaction');
  }

  @Transaction()
  static async throughConnection(ctx: TransactionContext<Kysely<DB>>): Promise<void> {
    await ctx.client.connection().execute((db) => db.transaction().execute((trx) => trx.insertInto('items').values({ workflow: ctx.workflowUUID } as never).execute()));
    throw new Error('after the nested transaction');
  }
}

let app: AppDir;
let testRuntime: TestingRuntime;
beforeAll(async () => {
  app = writeAppDir('rev_kysely_clone', { database: { client: 'kysely' }, migrations: { '001_items.sql': 'CREATE TABLE items (id SERIAL PRIMARY KEY, workflow TEXT NOT NULL);' }, logLevel: 'error' });
  testRuntime = await createTestingRuntime([Clones], app.configPath);
});
afterAll(async () => {
  await testRuntime?.destroy();
  app?.remove();
});

it.each(['throughWithSchema', 'throughConnection'] as const)('refuses the transaction() of a Kysely made from ctx.client (%s)', async (method) => {
  const uuid = randomUUID();
  await expect(testRuntime.invoke(Clones, uuid)[method]()).rejects.toMatchObject({ code: 'OPERON_ERR_TRANSACTION_NESTED' });
  expect(await testRuntime.queryUserDB('SELECT id FROM items WHERE workflow = $1', uuid)).toEqual([]);
});
