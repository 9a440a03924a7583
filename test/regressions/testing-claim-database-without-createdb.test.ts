/**
 * Regression: the testing runtime's claim holds its lock in a database of its own
 * (`<system_database>_test_claim`), made on first use. A role that may not create databases (no
 * CREATEDB), running its tests on test databases and templates made for it (`fresh: false`), got
 * Postgres's bare "permission denied to create database", naming neither that database nor what to
 * do. It is told which database is missing and how to make it; once made, the claim is taken.
 */
import pg from 'pg';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { claimDatabaseName, claimTestDatabases } from '../../packages/runtime/src/testing/test-databases.js';
import { uniqueName } from '../helpers/test-databases.js';

const server = inject('postgres');
const direct = server.direct ?? { host: server.host, port: server.port };
const base = { host: direct.host, port: direct.port, user: server.user, password: server.password, ssl: 'disable', connectionTimeoutMillis: 5_000 } as const;

const role = uniqueName('nocreatedb');
const name = uniqueName('claimnocdb');
const databases = `${name}_app_test, ${name}_sys_test`;
const claimDatabase = claimDatabaseName(`${name}_sys_test`);

async function asAdmin(sql: string): Promise<void> {
  const admin = new pg.Client({ ...base, ssl: false, database: 'postgres' });
  await admin.connect();
  try {
    await admin.query(sql);
  } finally {
    await admin.end();
  }
}

afterAll(async () => {
  await asAdmin(`DROP DATABASE IF EXISTS "${claimDatabase}" WITH (FORCE)`);
  await asAdmin(`DROP ROLE IF EXISTS ${role}`);
});

describe('a claim by a role without CREATEDB, its claim database missing', () => {
  it('is refused naming the database and how to make it; once made, it is taken', async () => {
    await asAdmin(`CREATE ROLE ${role} LOGIN PASSWORD 'pw'`);
    const asRole = { ...base, user: role, password: 'pw' };
    const refused = await claimTestDatabases(asRole, databases, claimDatabase).then(
      async (claim) => {
        await claim.release();
        return 'claimed';
      },
      (error: Error) => `${(error as { code?: string }).code}: ${error.message}`,
    );
    expect(refused).toMatch(/^OPERON_ERR_TESTING_USAGE: /);
    expect(refused).toContain(`"${claimDatabase}"`);
    expect(refused).toContain(`CREATE DATABASE "${claimDatabase}"`);
    expect(refused).toContain('CREATEDB');

    await asAdmin(`CREATE DATABASE "${claimDatabase}" TEMPLATE template0`);
    await (await claimTestDatabases(asRole, databases, claimDatabase)).release();
  });
});
