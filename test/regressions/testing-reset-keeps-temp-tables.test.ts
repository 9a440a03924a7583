/**
 * A temporary table a test created lives on in the pooled session it was made on: reset() dropped
 * only what was in the app's schemas. Since a session's own temporary tables come first in its
 * search path, the next test's queries (its own, and the app's transactions) that land on that
 * session read and write the leftover table instead of the app's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestingRuntime, type TestingRuntime } from '@operon/runtime';
import { makeAppDir, type TestAppDir } from '../testing-runtime/app-dir.js';

let app: TestAppDir;
let testRuntime: TestingRuntime;

beforeAll(async () => {
  app = makeAppDir('resettemp', { '001_items.sql': "CREATE TABLE items (name text NOT NULL); INSERT INTO items VALUES ('seed');" });
  testRuntime = await createTestingRuntime([], app.configPath);
});

afterAll(async () => {
  await testRuntime?.destroy();
  app?.remove();
});

/** Runs `sql` on `sessions` pooled sessions at once (each holds its session until all have run). */
const onSessions = (sessions: number, sql: string) =>
  Promise.all(Array.from({ length: sessions }, () => testRuntime.queryUserDB(`SELECT pg_sleep(0.05); ${sql}`)));

describe('reset() and temporary tables', () => {
  it("drops a test's temporary tables, in every pooled session", async () => {
    // A test shadows the app's table with a temporary one of the same name, on several sessions.
    await onSessions(4, 'CREATE TEMP TABLE IF NOT EXISTS items (name text)');
    await onSessions(4, 'CREATE TEMP TABLE IF NOT EXISTS scratch (x int)');
    await testRuntime.reset();

    const temporary = await testRuntime.queryUserDB<{ name: string }>("SELECT relname AS name FROM pg_class WHERE relpersistence = 't'");
    expect(temporary).toEqual([]);
    // Every session sees the app's table again, with its seed row.
    const seen = await Promise.all(
      Array.from({ length: 4 }, () => testRuntime.queryUserDB<{ names: string[] }>('SELECT array_agg(name) AS names, pg_sleep(0.05)::text FROM items')),
    );
    expect(seen.map((rows) => rows[0]?.names)).toEqual([['seed'], ['seed'], ['seed'], ['seed']]);
    // And the next test may create its own under the same name.
    await expect(onSessions(4, 'CREATE TEMP TABLE scratch (x int)')).resolves.toBeDefined();
  });
});
