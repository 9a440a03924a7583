import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
// This worker's names: a parallel worker's copies carry its number (`_test_2`).
import { testDatabaseName } from '../../packages/runtime/src/testing/test-databases.js';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import {
  Communicator,
  GetApi,
  OperonNotAuthorizedError,
  RequiredRole,
  PostApi,
  Transaction,
  Workflow,
  type CommunicatorContext,
  type HandlerContext,
  type TransactionContext,
  type WorkflowContext,
} from '@operon/sdk';
import { createTestingRuntime, type TestingRuntime } from '@operon/runtime';
import { freePort } from '../helpers/global-setup.js';
import { query, uniqueName } from '../helpers/test-databases.js';

let notified = 0;

class Greetings {
  @Transaction()
  static async insertGreeting(ctx: TransactionContext, name: string): Promise<number> {
    const { rows } = await ctx.client.query<{ id: number }>('INSERT INTO greetings(name) VALUES ($1) RETURNING id', [name]);
    return rows[0]!.id;
  }

  @Communicator()
  static async notify(_ctx: CommunicatorContext, name: string): Promise<string> {
    notified++;
    return `notified ${name}`;
  }

  @Workflow()
  static async greet(ctx: WorkflowContext, name: string): Promise<string> {
    const id = await ctx.invoke(Greetings).insertGreeting(name);
    await ctx.invoke(Greetings).notify(name);
    return `greeting ${id} for ${name}`;
  }

  @Workflow()
  static async waitForName(ctx: WorkflowContext): Promise<string | null> {
    const name = await ctx.recv<string>('name', 10);
    await ctx.setEvent('heard', name);
    return name;
  }

  @PostApi('/greet/:name')
  static async greetHandler(ctx: HandlerContext, name: string): Promise<string> {
    return (await ctx.invoke(Greetings).greet(name)).getResult();
  }

  @GetApi('/greeting')
  static async greeting(ctx: HandlerContext): Promise<string> {
    return ctx.getConfig('greeting', 'none')!;
  }
}

class Admin {
  @Workflow()
  @RequiredRole(['admin'])
  static async whoAmI(ctx: WorkflowContext): Promise<string> {
    return `${ctx.authenticatedUser}:${ctx.assumedRole}`;
  }
}

let appDir: string;
let configPath: string;
let names: { app: string; sys: string };

beforeAll(() => {
  const server = inject('postgres');
  const name = uniqueName('testing_rt');
  names = { app: `${name}_app`, sys: `${name}_sys` };
  appDir = mkdtempSync(join(tmpdir(), 'operon-testing-runtime-'));
  configPath = join(appDir, 'operon-config.yaml');
  writeFileSync(
    configPath,
    [
      'database:',
      `  hostname: ${server.host}`,
      `  port: ${server.port}`,
      `  username: ${server.user}`,
      `  password: ${server.password}`,
      `  user_database: ${names.app}`,
      `  system_database: ${names.sys}`,
      'telemetry:',
      '  logs: { logLevel: warn }',
      'application:',
      '  greeting: hello from the config',
      '',
    ].join('\n'),
  );
  mkdirSync(join(appDir, 'migrations'));
  writeFileSync(join(appDir, 'migrations', '001_create_greetings.sql'), 'CREATE TABLE greetings (id SERIAL PRIMARY KEY, name TEXT NOT NULL);');
});

afterAll(() => {
  rmSync(appDir, { recursive: true, force: true });
});

describe('createTestingRuntime', () => {
  let testRuntime: TestingRuntime;

  beforeAll(async () => {
    testRuntime = await createTestingRuntime([Greetings, Admin], configPath);
  });

  afterAll(async () => {
    await testRuntime?.destroy();
  });

  it('applies the migrations folder next to the config', async () => {
    expect(await testRuntime.queryUserDB('SELECT name FROM operon.app_migrations')).toEqual([{ name: '001_create_greetings.sql' }]);
  });

  it('invokes workflows (a handle) and transactions and communicators (their result)', async () => {
    const handle = await testRuntime.invoke(Greetings, 'trt-greet-1').greet('ada');
    expect(handle.getWorkflowUUID()).toBe('trt-greet-1');
    expect(await handle.getResult()).toMatch(/^greeting \d+ for ada$/);
    const id = await testRuntime.invoke(Greetings).insertGreeting('grace');
    expect(typeof id).toBe('number');
    expect(await testRuntime.invoke(Greetings).notify('linus')).toBe('notified linus');
    const rows = await testRuntime.queryUserDB<{ name: string }>('SELECT name FROM greetings WHERE name = ANY($1) ORDER BY name', ['ada', 'grace']);
    expect(rows).toEqual([{ name: 'ada' }, { name: 'grace' }]);
  });

  it('invokes as a given caller, whose roles are checked', async () => {
    await expect(testRuntime.invoke(Admin).whoAmI()).rejects.toBeInstanceOf(OperonNotAuthorizedError);
    const ada = { authenticatedUser: 'ada', authenticatedRoles: ['user', 'admin'] };
    const handle = await testRuntime.invoke(Admin, undefined, ada).whoAmI();
    expect(await handle.getResult()).toBe('ada:admin');
  });

  it('is idempotent under a UUID, as a handler is', async () => {
    const before = notified;
    const first = await testRuntime.invoke(Greetings, 'trt-notify-1').notify('once');
    const second = await testRuntime.invoke(Greetings, 'trt-notify-1').notify('once');
    expect(second).toBe(first);
    expect(notified - before).toBe(1);
    expect((await testRuntime.retrieveWorkflow('trt-greet-1').getStatus())?.status).toBe('SUCCESS');
  });

  it("injects HTTP requests into the app's routes", async () => {
    const res = await testRuntime.inject({ method: 'POST', url: '/greet/margaret', headers: { 'operon-workflowuuid': 'trt-http-1' } });
    expect(res.statusCode).toBe(200);
    expect(res.body).toMatch(/^greeting \d+ for margaret$/);
    expect(res.headers['operon-workflowuuid']).toBe('trt-http-1');
    expect((await testRuntime.inject({ method: 'GET', url: '/greeting' })).body).toBe('hello from the config');
  });

  it('sends messages and reads events', async () => {
    const handle = await testRuntime.invoke(Greetings, 'trt-wait-1').waitForName();
    await testRuntime.send('trt-wait-1', 'barbara', 'name');
    expect(await handle.getResult()).toBe('barbara');
    expect(await testRuntime.getEvent('trt-wait-1', 'heard', 5)).toBe('barbara');
  });
});

describe('createTestingRuntime across runs', () => {
  it('runs on databases of its own, fresh copies for each testing runtime unless fresh: false keeps them', async () => {
    const first = await createTestingRuntime([Greetings, Admin], configPath);
    await (await first.invoke(Greetings, 'trt-run-1').greet('kept')).getResult();
    // The config's databases are the served app's: the testing runtime never creates or touches them.
    expect(first.runtime.config.database.user_database).toBe(testDatabaseName(names.app));
    expect(first.runtime.config.database.system_database).toBe(testDatabaseName(names.sys));
    const served = await query('postgres', 'SELECT datname FROM pg_database WHERE datname = ANY($1)', [[names.app, names.sys]]);
    expect(served).toEqual([]);
    await first.destroy();
    await first.destroy();

    const kept = await createTestingRuntime([Greetings, Admin], configPath, { fresh: false });
    try {
      expect((await kept.retrieveWorkflow('trt-run-1').getStatus())?.status).toBe('SUCCESS');
      expect(await kept.queryUserDB("SELECT count(*)::int AS n FROM greetings WHERE name = 'kept'")).toEqual([{ n: 1 }]);
    } finally {
      await kept.destroy();
    }

    const fresh = await createTestingRuntime([Greetings, Admin], configPath);
    try {
      expect(await fresh.retrieveWorkflow('trt-run-1').getStatus()).toBeNull();
      // The app's tables as its migrations leave them, and nothing in them.
      expect(await fresh.queryUserDB('SELECT count(*)::int AS n FROM greetings')).toEqual([{ n: 0 }]);
      expect(await fresh.queryUserDB('SELECT name FROM operon.app_migrations')).toEqual([{ name: '001_create_greetings.sql' }]);
    } finally {
      await fresh.destroy();
    }
  });

  it('builds a new template when a migration is added, and drops the old one', async () => {
    const templates = async () =>
      (await query<{ datname: string }>('postgres', "SELECT datname FROM pg_database WHERE starts_with(datname, $1) ORDER BY datname", [`${testDatabaseName(names.app)}_tpl_`])).map((r) => r.datname);
    const before = await templates();
    expect(before).toHaveLength(1);
    writeFileSync(join(appDir, 'migrations', '002_add_mood.sql'), 'ALTER TABLE greetings ADD COLUMN mood TEXT;');
    try {
      const testRuntime = await createTestingRuntime([Greetings, Admin], configPath);
      try {
        expect(await testRuntime.queryUserDB("SELECT column_name FROM information_schema.columns WHERE table_name = 'greetings' AND column_name = 'mood'")).toHaveLength(1);
      } finally {
        await testRuntime.destroy();
      }
      const after = await templates();
      expect(after).toHaveLength(1);
      expect(after).not.toEqual(before);
    } finally {
      rmSync(join(appDir, 'migrations', '002_add_mood.sql'));
    }
  });
});

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('createTestingRuntime on the embedded Postgres', () => {
  // PGHOST or DATABASE_URL in the environment would name a server, and no embedded one starts.
  const serverFromEnv = Boolean(process.env.PGHOST || process.env.DATABASE_URL);
  it.skipIf(serverFromEnv)('starts the embedded Postgres when the config names no host, and stops it on destroy', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'operon-testing-embedded-'));
    // As root the server runs as user postgres, which must reach the data folder.
    chmodSync(dir, 0o755);
    const port = await freePort();
    try {
      writeFileSync(join(dir, 'operon-config.yaml'), `database:\n  port: ${port}\n  user_database: embedded_app\ntelemetry:\n  logs: { logLevel: warn }\n`);
      mkdirSync(join(dir, 'migrations'));
      writeFileSync(join(dir, 'migrations', '001_create_greetings.sql'), 'CREATE TABLE greetings (id SERIAL PRIMARY KEY, name TEXT NOT NULL);');
      const testRuntime = await createTestingRuntime([Greetings, Admin], join(dir, 'operon-config.yaml'));
      try {
        expect(testRuntime.runtime.config.database.embedded).toBe(true);
        expect(await (await testRuntime.invoke(Greetings).greet('embedded')).getResult()).toMatch(/^greeting 1 for embedded$/);
        expect(await testRuntime.queryUserDB('SELECT name FROM greetings')).toEqual([{ name: 'embedded' }]);
      } finally {
        await testRuntime.destroy();
      }
      expect(await accepts(port)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
