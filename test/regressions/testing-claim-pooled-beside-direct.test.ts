/**
 * Regression: behind a transaction pooler the testing runtime's claim on its test databases took
 * its advisory lock in a database of its own (`<system_database>_test_claim`), and without one in
 * `postgres`. An advisory lock is the database's own: a test run of the app through the pooler and
 * one straight to the server (the same app, the same server, at once) did not refuse each other,
 * and each dropped and rebuilt the test databases the other ran on (the template build's lock,
 * taken on the same session, did not keep them apart either). Every claim holds its lock in that
 * one database, pooler or not.
 */
import pg from 'pg';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { claimDatabaseName, claimTestDatabases, type TestDatabasesClaim } from '../../packages/runtime/src/testing/test-databases.js';
import type { ConnectionSettings } from '../../packages/runtime/src/database/pools.js';
import { uniqueName } from '../helpers/test-databases.js';

const server = inject('postgres');
// Straight to the server in both claims: only the pooler setting tells them apart.
const direct = server.direct ?? { host: server.host, port: server.port };
const base = { host: direct.host, port: direct.port, user: server.user, password: server.password, ssl: 'disable', connectionTimeoutMillis: 5_000 } as const;
const pooled: ConnectionSettings = { ...base, pooler: 'transaction' };
const straight: ConnectionSettings = { ...base };

const name = uniqueName('claimmix');
const databases = `${name}_app_test, ${name}_sys_test`;
const claimDatabase = claimDatabaseName(`${name}_sys_test`);
const held: TestDatabasesClaim[] = [];

afterAll(async () => {
  for (const claim of held) await claim.release();
  const admin = new pg.Client({ ...base, ssl: false, database: 'postgres' });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS "${claimDatabase}" WITH (FORCE)`);
  await admin.end();
});

/** What a second claim gets: refused (its message), or the claim (let go at once). */
async function secondClaim(connection: ConnectionSettings): Promise<string> {
  try {
    await (await claimTestDatabases(connection, databases, claimDatabase)).release();
    return 'claimed';
  } catch (error) {
    return (error as Error).message;
  }
}

describe('a claim through a pooler and one straight to the server, on the same test databases', () => {
  it('refuse each other, whichever comes first', async () => {
    held.push(await claimTestDatabases(pooled, databases, claimDatabase));
    expect(await secondClaim(straight)).toMatch(/another process's testing runtime runs on/);
    await held.pop()!.release();

    held.push(await claimTestDatabases(straight, databases, claimDatabase));
    expect(await secondClaim(pooled)).toMatch(/another process's testing runtime runs on/);
    await held.pop()!.release();
  });
});
