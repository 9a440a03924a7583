/**
 * `operon debug` end to end: workflows recorded through a real `operon start` (success, an error,
 * communicator retries, send/recv), replayed by the built CLI; then the code is changed and
 * rebuilt, and the replay names where it diverges. No replay changes either database.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../helpers/global-setup.js';
import { query, uniqueName } from '../helpers/test-databases.js';
import { CLI_MAIN, REPO, assertCliBuilt, cleanEnv, expectOneLineError, operon, spawnServer, type Server } from './cli-process.js';

function operations(variant: 'recorded' | 'reordered'): string {
  const order =
    variant === 'recorded'
      ? `const id = await ctx.invoke(Shop).insert(item);
    const charged = await ctx.invoke(Shop).charge(item);`
      : `const charged = await ctx.invoke(Shop).charge(item);
    const id = await ctx.invoke(Shop).insert(item);`;
  return `
import { existsSync, writeFileSync } from 'node:fs';
import { Communicator, GetApi, Transaction, Workflow, type CommunicatorContext, type HandlerContext, type TransactionContext, type WorkflowContext } from '@operon/sdk';

export class Shop {
  @Transaction()
  static async insert(ctx: TransactionContext, item: string): Promise<number> {
    const { rows } = await ctx.client.query<{ id: number }>('INSERT INTO items(name) VALUES ($1) RETURNING id', [item]);
    return rows[0]!.id;
  }

  @Communicator({ intervalSeconds: 0.01, maxAttempts: 3 })
  static async charge(_ctx: CommunicatorContext, item: string): Promise<string> {
    // Fails on its first attempt, so the record is the retry's.
    if (!existsSync('charged-once')) {
      writeFileSync('charged-once', '');
      throw new Error('card network busy');
    }
    return 'charged ' + item;
  }

  @Communicator({ retriesAllowed: false })
  static async refuse(_ctx: CommunicatorContext): Promise<void> {
    throw new Error('out of stock');
  }

  @Workflow()
  static async order(ctx: WorkflowContext, item: string): Promise<string> {
    ${order}
    return id + ' ' + charged;
  }

  @Workflow()
  static async failing(ctx: WorkflowContext): Promise<void> {
    await ctx.invoke(Shop).refuse();
  }

  @Workflow()
  static async receiver(ctx: WorkflowContext): Promise<string> {
    const message = await ctx.recv<string>('greetings', 30);
    return 'got ' + message;
  }

  @GetApi('/order/:item')
  static async orderHandler(ctx: HandlerContext, item: string): Promise<string> {
    return (await ctx.invoke(Shop).order(item)).getResult();
  }

  @GetApi('/fail')
  static async failHandler(ctx: HandlerContext): Promise<string> {
    await (await ctx.invoke(Shop).failing()).getResult().catch(() => undefined);
    return 'failed as planned';
  }

  @GetApi('/relay/:message')
  static async relay(ctx: HandlerContext, message: string): Promise<string> {
    const handle = await ctx.invoke(Shop).receiver();
    await ctx.send(handle.getWorkflowUUID(), message, 'greetings');
    return handle.getResult();
  }
}
`;
}

const server = inject('postgres');
const name = uniqueName('debug');
const databases = { app: `${name}_app`, sys: `${name}_sys` };
let dir: string;
let app: string;
let env: NodeJS.ProcessEnv;
let running: Server | undefined;

async function build(variant: 'recorded' | 'reordered'): Promise<void> {
  writeFileSync(join(app, 'src', 'operations.ts'), operations(variant));
  const result = await operon(['build'], { cwd: app, env });
  expect(result.code, result.stderr).toBe(0);
}

async function snapshot(): Promise<unknown> {
  const tables = async (db: string, names: string[]) =>
    Promise.all(names.map(async (t) => (await query(db, `SELECT md5(coalesce(string_agg(x::text, ',' ORDER BY x::text), '')) AS h FROM ${t} x`))[0].h));
  return {
    sys: await tables(databases.sys, ['operon.workflow_status', 'operon.operation_outputs', 'operon.notifications', 'operon.workflow_events']),
    app: await tables(databases.app, ['items', 'operon.transaction_outputs']),
  };
}

beforeAll(async () => {
  assertCliBuilt();
  dir = mkdtempSync(join(tmpdir(), 'operon-debug-'));
  chmodSync(dir, 0o755);
  app = join(dir, 'shop');
  mkdirSync(join(app, 'src'), { recursive: true });
  mkdirSync(join(app, 'migrations'));
  mkdirSync(join(app, 'node_modules', '@operon'), { recursive: true });
  // The app resolves the repository's built sdk, as `file:` dependencies would install it.
  symlinkSync(join(REPO, 'packages/sdk'), join(app, 'node_modules', '@operon', 'sdk'));
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'shop', type: 'module', private: true }));
  writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', strict: true } }));
  writeFileSync(join(app, 'migrations', '001_items.sql'), 'CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL);\n');
  const port = await freePort();
  writeFileSync(
    join(app, 'operon-config.yaml'),
    `database:
  hostname: ${server.host}
  port: ${server.port}
  username: ${server.user}
  password: \${TEST_PGPASSWORD}
  user_database: ${databases.app}
  system_database: ${databases.sys}
runtimeConfig:
  port: ${port}
`,
  );
  env = cleanEnv({ TEST_PGPASSWORD: server.password });
  await build('recorded');
  const migrated = await operon(['migrate'], { cwd: app, env });
  expect(migrated.code, migrated.stderr).toBe(0);
  running = spawnServer(process.execPath, [CLI_MAIN, 'start', '-l', 'warn'], { cwd: app, env });
  // The first requests retry until the server listens.
  const get = async (path: string, uuid: string) => {
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers: { 'operon-workflowuuid': uuid } });
        return await res.text();
      } catch (error) {
        if (attempt > 100) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  };
  expect(await get('/order/book', 'order-1')).toBe('1 charged book');
  expect(await get('/fail', 'fail-1')).toBe('failed as planned');
  expect(await get('/relay/hello', 'relay-1')).toBe('got hello');
  expect((await running.kill('SIGTERM')).code).toBe(0);
  running = undefined;
}, 120_000);

afterAll(async () => {
  await running?.kill('SIGKILL');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('operon debug', () => {
  it('replays a successful workflow, its retried communicator and its transaction', async () => {
    const before = await snapshot();
    const result = await operon(['debug', '-u', 'order-1'], { cwd: app, env });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.split('\n')).toEqual([
      'workflow order-1: Shop.order, recorded SUCCESS',
      '  #0   transaction   Shop.insert  → 1',
      '  #1   communicator  Shop.charge  → "charged book"',
      'result: "1 charged book" (matches the recorded result)',
      '',
    ]);
    expect(await snapshot()).toEqual(before);
  });

  it('replays a recorded error and a received message', async () => {
    const failed = await operon(['debug', '-u', 'fail-1'], { cwd: app, env });
    expect(failed.code, failed.stderr).toBe(0);
    expect(failed.stdout).toContain('Shop.refuse  ✗ Error: out of stock');
    expect(failed.stdout).toContain('result: Error: out of stock (matches the recorded result)');
    const relayed = await operon(['debug', '-u', 'relay-1', '--json'], { cwd: app, env });
    expect(relayed.code, relayed.stderr).toBe(0);
    const report = JSON.parse(relayed.stdout);
    expect(report).toMatchObject({ matches: true, result: { output: 'got hello' } });
    expect(report.operations.map((op: { functionName: string }) => op.functionName)).toEqual(['operon.recv.deadline', 'operon.recv']);
    expect(report.operations[1].summary).toBe('"hello"');
  });

  it('says in one line that a UUID has no record, with exit code 2', async () => {
    expectOneLineError(await operon(['debug', '-u', 'no-such-workflow'], { cwd: app, env }), 2, /^operon debug: no workflow with UUID no-such-workflow exists$/);
  });

  it('names the operation where changed code diverges, with exit code 1, touching nothing', async () => {
    const before = await snapshot();
    await build('reordered');
    const result = await operon(['debug', '-u', 'order-1'], { cwd: app, env });
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('DIVERGED at operation 0: operation 0: the code calls Shop.charge, but the record is of Shop.insert');
    expect(result.stderr.trim()).toBe(
      'operon debug: workflow order-1 diverges from its record: operation 0: the code calls Shop.charge, but the record is of Shop.insert',
    );
    expect(await snapshot()).toEqual(before);
  });
});
