/**
 * The testing runtime behind a real PgBouncer in transaction mode with one server connection per
 * database (`default_pool_size = 1`): its claim on the test databases holds a server session for
 * as long as it runs, on a database of the claim's own, so it takes none from the pool of
 * `postgres` (where the test databases are made, and where a crash or a reset ends sessions) nor
 * from those of the test databases. Every helper works; with the claim on `postgres`, making the
 * test databases waited for the one connection the claim held, and never got it.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { Communicator, OperonShutdownError, Transaction, Workflow, type CommunicatorContext, type TransactionContext, type WorkflowContext } from '@operon/sdk';
import { createTestingRuntime } from '@operon/runtime';
import { freePort } from '../helpers/global-setup.js';
import { havePgBouncer, startPgBouncer, type PgBouncer } from '../helpers/pgbouncer.js';
import { uniqueName } from '../helpers/test-databases.js';

const server = inject('postgres');
const direct = server.direct ?? { host: server.host, port: server.port };

if (process.env.CI && !havePgBouncer()) throw new Error('CI runs the pooler tests: .ci/run installs pgbouncer');

let bouncer: PgBouncer;
let dir: string;
let configPath: string;
beforeAll(async () => {
  bouncer = await startPgBouncer({ serverHost: direct.host, serverPort: direct.port, user: server.user, password: server.password, port: await freePort(), poolSize: 1 });
  const name = uniqueName('tronec');
  dir = mkdtempSync(join(tmpdir(), 'operon-testing-one-connection-'));
  configPath = join(dir, 'operon-config.yaml');
  writeFileSync(
    configPath,
    [
      'database:',
      `  hostname: ${bouncer.host}`,
      `  port: ${bouncer.port}`,
      `  username: ${server.user}`,
      `  password: ${server.password}`,
      `  user_database: ${name}_app`,
      `  system_database: ${name}_sys`,
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

let notified = 0;

class Notes {
  @Transaction()
  static async add(ctx: TransactionContext, body: string): Promise<number> {
    const { rows } = await ctx.client.query<{ id: number }>('INSERT INTO notes (body) VALUES ($1) RETURNING id', [body]);
    return rows[0]!.id;
  }

  @Communicator()
  static async notify(_ctx: CommunicatorContext, id: number): Promise<string> {
    notified++;
    return `note ${id}`;
  }

  @Workflow()
  static async write(ctx: WorkflowContext, body: string): Promise<string> {
    const id = await ctx.invoke(Notes).add(body);
    await ctx.sleep(3600);
    return ctx.invoke(Notes).notify(id);
  }
}

describe('the testing runtime behind PgBouncer with one server connection per database', () => {
  it('starts, runs, moves its clock, crashes and recovers, resets and ends', { timeout: 60_000 }, async () => {
    const testRuntime = await createTestingRuntime([Notes], configPath, { clock: 'virtual' });
    try {
      const first = await testRuntime.invoke(Notes, 'note-one').write('one');
      await testRuntime.advance('1h');
      expect(await first.getResult()).toBe('note 1');

      // A crash ends the runtime's sessions (through `postgres`'s pool), and the recovery resumes.
      await testRuntime.crashAfter('Notes.notify');
      const second = await testRuntime.invoke(Notes, 'note-two').write('two');
      await expect(testRuntime.advance('1h')).rejects.toThrow(/crashed after Notes\.notify/);
      await expect(second.getResult()).rejects.toBeInstanceOf(OperonShutdownError);
      expect(await testRuntime.recover()).toBe(1);
      expect(await testRuntime.retrieveWorkflow('note-two').getResult()).toBe('note 2');
      expect(notified).toBe(2);

      // A reset, with a workflow asleep to abandon: the notes are gone, the ids start over.
      await testRuntime.invoke(Notes, 'note-three').write('three');
      await testRuntime.reset();
      const again = await testRuntime.invoke(Notes, 'note-one').write('one again');
      await testRuntime.runUntilIdle();
      expect(await again.getResult()).toBe('note 1');
      expect(await testRuntime.queryUserDB('SELECT body FROM notes')).toEqual([{ body: 'one again' }]);
    } finally {
      await testRuntime.destroy();
    }
  });
});
