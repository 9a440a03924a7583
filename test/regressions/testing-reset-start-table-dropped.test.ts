/**
 * A test that dropped (or renamed) a table of the start made every later reset() fail with
 * Postgres's bare 'relation "public.items" does not exist', which says neither that the reset
 * cannot make the table again nor what to do; it now fails with OPERON_ERR_TESTING_USAGE saying so.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestingRuntime, OperonTestingUsageError, type TestingRuntime } from '@operon/runtime';
import { makeAppDir, type TestAppDir } from '../testing-runtime/app-dir.js';

let app: TestAppDir;
let testRuntime: TestingRuntime;

beforeAll(async () => {
  app = makeAppDir('resetgone', { '001_items.sql': "CREATE TABLE items (name text NOT NULL); INSERT INTO items VALUES ('seed');" });
  testRuntime = await createTestingRuntime([], app.configPath);
});

afterAll(async () => {
  await testRuntime?.destroy();
  app?.remove();
});

describe('reset() after a test dropped a table of the start', () => {
  it('fails naming the table and what to do, and succeeds once the table is back', async () => {
    await testRuntime.queryUserDB('ALTER TABLE items RENAME TO old_items');
    const failed = await testRuntime.reset().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failed).toBeInstanceOf(OperonTestingUsageError);
    expect((failed as Error).message).toMatch(/relation "public\.items" does not exist.*was there at the start.*dropped or renamed.*testing runtime of its own/);
    // Nothing of the app database changed: the test's own table is still there.
    expect(await testRuntime.queryUserDB('SELECT name FROM old_items')).toEqual([{ name: 'seed' }]);

    await testRuntime.queryUserDB('ALTER TABLE old_items RENAME TO items');
    await testRuntime.queryUserDB("INSERT INTO items VALUES ('left')");
    await testRuntime.reset();
    expect(await testRuntime.queryUserDB('SELECT name FROM items')).toEqual([{ name: 'seed' }]);
  });
});
