/**
 * Drizzle's `db.transaction()` was refused inside an Operon transaction, but the same BEGIN and
 * COMMIT were reachable through its session (`db.session.transaction()`, also `db._.session`):
 * the COMMIT ended Operon's transaction before it recorded the output, so the writes committed
 * without their record. Every route to Drizzle's own transaction is now refused the same way
 * (OPERON_ERR_TRANSACTION_NESTED), before anything is sent.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { NodePgDatabase } from 'drizzle-orm/node-postgres';
import { pgTable, serial, text } from 'drizzle-orm/pg-core';
import { Transaction, type TransactionContext } from '@operon/sdk';
import { createTestingRuntime, type TestingRuntime } from '@operon/runtime';
import { writeAppDir, type AppDir } from '../helpers/app-dir.js';

const items = pgTable('items', { id: serial('id').primaryKey(), label: text('label').notNull() });

/** What the app reaches: `db.session`, and the same session under `db._`. */
type Sessions = { session: { transaction: NodePgDatabase['transaction'] }; _: { session: { transaction: NodePgDatabase['transaction'] } } };

class Sneaky {
  @Transaction()
  static async throughSession(ctx: TransactionContext<NodePgDatabase>, label: string): Promise<string> {
    const db = ctx.client as unknown as Sessions;
    await db.session.transaction(async (trx) => trx.insert(items).values({ label }));
    return 'committed';
  }

  @Transaction()
  static async throughInternalSession(ctx: TransactionContext<NodePgDatabase>, label: string): Promise<string> {
    const db = ctx.client as unknown as Sessions;
    await db._.session.transaction(async (trx) => trx.insert(items).values({ label }));
    return 'committed';
  }
}

let app: AppDir;
let testRuntime: TestingRuntime;

beforeAll(async () => {
  app = writeAppDir('drizzle_session', { database: { client: 'drizzle' }, migrations: { '001_items.sql': 'CREATE TABLE items (id SERIAL PRIMARY KEY, label TEXT NOT NULL);' } });
  testRuntime = await createTestingRuntime([Sneaky], app.configPath);
});

afterAll(async () => {
  await testRuntime?.destroy();
  app?.remove();
});

it("refuses drizzle's transaction reached through db.session and db._.session, and writes nothing", async () => {
  await expect(testRuntime.invoke(Sneaky, randomUUID()).throughSession('via-session')).rejects.toMatchObject({ code: 'OPERON_ERR_TRANSACTION_NESTED' });
  await expect(testRuntime.invoke(Sneaky, randomUUID()).throughInternalSession('via-internal')).rejects.toMatchObject({ code: 'OPERON_ERR_TRANSACTION_NESTED' });
  expect(await testRuntime.queryUserDB('SELECT label FROM items')).toEqual([]);
});
