/**
 * The testing runtime's advisory locks (its claim on the test databases, and the template build's)
 * behind a real PgBouncer in transaction mode. A session's lock would stay on the pooled server
 * session after the testing runtime ended, held by no one, and a second test run of the app within
 * PgBouncer's server_idle_timeout would be told that another process runs on its databases.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { Transaction, Workflow, type TransactionContext, type WorkflowContext } from '@operon/sdk';
import { createTestingRuntime } from '@operon/runtime';
import { claimDatabaseName, claimTestDatabases, templateLockKey, testDatabaseName, testDatabasesLockKey } from '../../packages/runtime/src/testing/test-databases.js';
import type { ConnectionSettings } from '../../packages/runtime/src/database/pools.js';
import { CuttableProxy } from '../helpers/cuttable-proxy.js';
import { freePort } from '../helpers/global-setup.js';
import { havePgBouncer, startPgBouncer, type PgBouncer } from '../helpers/pgbouncer.js';
import { uniqueName } from '../helpers/test-databases.js';

const server = inject('postgres');
const direct = server.direct ?? { host: server.host, port: server.port };

if (process.env.CI && !havePgBouncer()) throw new Error('CI runs the pooler tests: .ci/run installs pgbouncer');

let bouncer: PgBouncer;
let dir: string;
let configPath: string;
let names: { app: string; sys: string };
beforeAll(async () => {
  // Two server sessions per database: a session one client left its lock on is lent to the next.
  bouncer = await startPgBouncer({ serverHost: direct.host, serverPort: direct.port, user: server.user, password: server.password, port: await freePort(), poolSize: 2 });
  const name = uniqueName('trlocks');
  names = { app: `${name}_app`, sys: `${name}_sys` };
  dir = mkdtempSync(join(tmpdir(), 'operon-testing-locks-'));
  configPath = join(dir, 'operon-config.yaml');
  writeFileSync(
    configPath,
    [
      'database:',
      `  hostname: ${bouncer.host}`,
      `  port: ${bouncer.port}`,
      `  username: ${server.user}`,
      `  password: ${server.password}`,
      `  user_database: ${names.app}`,
      `  system_database: ${names.sys}`,
      '  pooler: transaction',
      'telemetry:',
      `  logs: { logLevel: ${process.env.OPERON_TEST_LOG_LEVEL ?? 'warn'} }`,
      '',
    ].join('\n'),
  );
  mkdirSync(join(dir, 'migrations'));
  writeFileSync(join(dir, 'migrations', '001_notes.sql'), 'CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL);');
});
afterAll(async () => {
  await bouncer?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

class Notes {
  @Transaction()
  static async add(ctx: TransactionContext, body: string): Promise<number> {
    const { rows } = await ctx.client.query<{ id: number }>('INSERT INTO notes (body) VALUES ($1) RETURNING id', [body]);
    return rows[0]!.id;
  }

  @Workflow()
  static async write(ctx: WorkflowContext, body: string): Promise<number> {
    return ctx.invoke(Notes).add(body);
  }
}

/** The advisory locks on the server (seen directly, past the pooler) of `key`, as hashtext keys them. */
async function locksOf(key: string): Promise<Array<{ granted: boolean; pid: number }>> {
  const client = new pg.Client({ host: direct.host, port: direct.port, user: server.user, password: server.password, database: 'postgres' });
  await client.connect();
  try {
    const { rows } = await client.query<{ granted: boolean; pid: number }>(
      `SELECT granted, pid FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1 AND ((classid::bigint << 32) | objid::bigint) = hashtext($1)::bigint`,
      [key],
    );
    return rows;
  } finally {
    await client.end();
  }
}

describe("the testing runtime's advisory locks behind PgBouncer", () => {
  it('are held while a testing runtime runs, and end with it: a second run of the same app starts at once', { timeout: 90_000 }, async () => {
    // The test copies' names, as the testing runtime gives them in this vitest worker (`_test_2` in the second).
    const databases = `${testDatabaseName(names.app)}, ${testDatabaseName(names.sys)}`;
    const claimKey = testDatabasesLockKey(databases);
    const claimDatabase = claimDatabaseName(testDatabaseName(names.sys));
    const templateKey = templateLockKey(testDatabaseName(names.app), testDatabaseName(names.sys));
    const through: ConnectionSettings = { host: bouncer.host, port: bouncer.port, user: server.user, password: server.password, ssl: 'disable', connectionTimeoutMillis: 5_000, pooler: 'transaction' };

    const first = await createTestingRuntime([Notes], configPath);
    try {
      expect(await (await first.invoke(Notes).write('one')).getResult()).toBe(1);
      // Held through the pooler: one granted lock on the server, and a second claim is refused.
      expect(await locksOf(claimKey)).toEqual([{ granted: true, pid: expect.any(Number) }]);
      await expect(claimTestDatabases(through, databases, claimDatabase)).rejects.toThrow(/another process's testing runtime runs on/);
      // The template was built under its lock, and that lock went with the build.
      expect(await locksOf(templateKey)).toEqual([]);
    } finally {
      await first.destroy();
    }
    // Nothing left on a pooled server session (a session's lock would be, held by no client).
    expect(await locksOf(claimKey)).toEqual([]);
    expect(await locksOf(templateKey)).toEqual([]);

    // The next test run of the app, within PgBouncer's server_idle_timeout: claims and starts.
    await (await claimTestDatabases(through, databases, claimDatabase)).release();
    const second = await createTestingRuntime([Notes], configPath);
    try {
      expect(await (await second.invoke(Notes).write('two')).getResult()).toBe(1);
    } finally {
      await second.destroy();
    }
    expect(await locksOf(claimKey)).toEqual([]);
  });

  it("ends with its holder's connection, as when the test process is killed: the pooler closes the server session the claim was on", async () => {
    const cut = uniqueName('trcut');
    const databases = `${cut}_app_test, ${cut}_sys_test`;
    const claimDatabase = claimDatabaseName(`${cut}_sys_test`);
    const claimKey = testDatabasesLockKey(databases);
    // Between the claim and PgBouncer: cutting it is what PgBouncer sees of a SIGKILLed process.
    const proxy = new CuttableProxy({ host: bouncer.host, port: bouncer.port });
    const port = await proxy.listen();
    try {
      const claim = await claimTestDatabases({ host: '127.0.0.1', port, user: server.user, password: server.password, ssl: 'disable', connectionTimeoutMillis: 5_000, pooler: 'transaction' }, databases, claimDatabase);
      expect(await locksOf(claimKey)).toHaveLength(1);
      proxy.cutAll();
      await expect.poll(() => locksOf(claimKey), { timeout: 10_000, interval: 50 }).toEqual([]);
      await claim.release();
      // Claimed again at once, through the same pooler.
      await (await claimTestDatabases({ host: bouncer.host, port: bouncer.port, user: server.user, password: server.password, ssl: 'disable', connectionTimeoutMillis: 5_000, pooler: 'transaction' }, databases, claimDatabase)).release();
    } finally {
      await proxy.close();
    }
  });
});
