/**
 * Regression: behind a transaction pooler the runtime made sure of its databases before anything
 * else, by logging in to the server's `postgres` database through the pooler, at every start. A
 * pgbouncer.ini commonly lists only the databases it serves (and a managed server may refuse
 * CONNECT on `postgres`): Operon then could not start, though both its databases existed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { Workflow, type WorkflowContext } from '@operon/sdk';
import { OperonRuntime, createLogger, resolveConfig } from '@operon/runtime';
import { freePort } from '../helpers/global-setup.js';
import { startPgBouncer, type PgBouncer } from '../helpers/pgbouncer.js';
import { query, testConfigInput } from '../helpers/test-databases.js';

const server = inject('postgres');
const direct = server.direct ?? { host: server.host, port: server.port };

class Hello {
  @Workflow()
  static async hi(_ctx: WorkflowContext, name: string): Promise<string> {
    return `hi ${name}`;
  }
}

const input = testConfigInput('pgbnopg');
let bouncer: PgBouncer | undefined;
beforeAll(async () => {
  for (const name of [input.database.user_database, input.database.system_database]) await query('postgres', `CREATE DATABASE "${name}"`);
  bouncer = await startPgBouncer({
    serverHost: direct.host,
    serverPort: direct.port,
    user: server.user,
    password: server.password,
    port: await freePort(),
    databases: [input.database.user_database, input.database.system_database],
  });
});
afterAll(async () => {
  await bouncer?.stop();
});

describe('a pooler that serves only the app and system databases', () => {
  it('starts and runs a workflow', async () => {
    const database = { ...input.database, hostname: bouncer!.host, port: bouncer!.port, pooler: 'transaction', notifications: 'poll' };
    const config = resolveConfig({ ...input, database }, { file: '', appDir: process.cwd(), env: { ...process.env, OPERON_EXECUTOR_ID: database.system_database } });
    const runtime = await OperonRuntime.create({ config, classes: [Hello], logger: createLogger('warn') });
    try {
      await runtime.recover();
      const handle = await runtime.client.invoke(Hello).hi('pooler');
      expect(await handle.getResult()).toBe('hi pooler');
    } finally {
      await runtime.destroy({ timeoutMs: 1000 });
    }
  });
});
