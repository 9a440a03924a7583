/**
 * The testing runtime works on `<user_database>_test` and `<system_database>_test`, and drops them
 * for each fresh start. A database of that name that the testing runtime did not make (another
 * app's, or a staging copy named `orders_test` beside `orders` on the same server) was dropped
 * with its data, its sessions ended. Now the testing runtime marks the copies it makes and refuses
 * to drop or reuse a database of the test name that is not one of them.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { OperonTestingUsageError, createTestingRuntime } from '@operon/runtime';
import { testDatabaseName } from '../../packages/runtime/src/testing/test-databases.js';
import { query, uniqueName } from '../helpers/test-databases.js';

let dir: string;
let configPath: string;
let served: { app: string; sys: string };

beforeAll(async () => {
  const server = inject('postgres');
  const name = uniqueName('served');
  const names = { app: `${name}_app`, sys: `${name}_sys` };
  served = { app: testDatabaseName(names.app), sys: testDatabaseName(names.sys) };
  dir = mkdtempSync(join(tmpdir(), 'operon-served-'));
  configPath = join(dir, 'operon-config.yaml');
  writeFileSync(
    configPath,
    `database:\n  hostname: ${server.host}\n  port: ${server.port}\n  username: ${server.user}\n  password: ${server.password}\n  user_database: ${names.app}\n  system_database: ${names.sys}\ntelemetry:\n  logs: { logLevel: warn }\n`,
  );
  // Another app's database, which happens to have the test copy's name.
  await query('postgres', `CREATE DATABASE "${served.app}"`);
  await query(served.app, 'CREATE TABLE orders (id INT PRIMARY KEY); INSERT INTO orders VALUES (1), (2)');
});

afterAll(async () => {
  await query('postgres', `DROP DATABASE IF EXISTS "${served.app}" WITH (FORCE)`);
  await query('postgres', `DROP DATABASE IF EXISTS "${served.sys}" WITH (FORCE)`);
  rmSync(dir, { recursive: true, force: true });
});

describe('a database of the test name that the testing runtime did not make', () => {
  it('is neither dropped nor used, fresh or not, and the refusal names it', async () => {
    for (const fresh of [true, false]) {
      let thrown: unknown;
      try {
        const testRuntime = await createTestingRuntime([], configPath, { fresh });
        await testRuntime.destroy();
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(OperonTestingUsageError);
      expect((thrown as Error).message).toContain(served.app);
      expect(await query(served.app, 'SELECT id FROM orders ORDER BY id')).toEqual([{ id: 1 }, { id: 2 }]);
    }
  });
});
