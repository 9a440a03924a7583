/**
 * reset() returns a live testing runtime to the state it started in, in place: what one test left
 * behind (rows, changed seed rows, sequences, pending and sleeping workflows, messages, events,
 * timers, an armed crashAfter) is invisible to the next, and a workflow still running at the reset
 * (in a communicator, in a transaction, asleep, waiting for a message) never writes anything after it.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Communicator, OperonShutdownError, Transaction, Workflow, type CommunicatorContext, type TransactionContext, type WorkflowContext } from '@operon/sdk';
import { createTestingRuntime, type TestingRuntime } from '@operon/runtime';
import { makeAppDir, type TestAppDir } from './app-dir.js';

/** A gate a test opens by hand: code that waits on it is under way until then. */
function gate(): { readonly wait: Promise<void>; open(): void; readonly reached: Promise<void>; arrive(): void } {
  let open!: () => void;
  let arrive!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  const reached = new Promise<void>((resolve) => (arrive = resolve));
  return { wait, open, reached, arrive };
}

let communicatorGate = gate();
let transactionGate = gate();
/** How many times each piece of code ran, in this process. */
const ran = new Map<string, number>();
const count = (name: string) => ran.set(name, (ran.get(name) ?? 0) + 1);

class Shop {
  @Transaction()
  static async addItem(ctx: TransactionContext, name: string): Promise<number> {
    const { rows } = await ctx.client.query<{ id: number }>('INSERT INTO items (name) VALUES ($1) RETURNING id', [name]);
    return rows[0]!.id;
  }

  @Transaction()
  static async slowAdd(ctx: TransactionContext, name: string): Promise<void> {
    // Holds the seed row's lock: a reset's DELETE waits for it.
    await ctx.client.query("UPDATE items SET name = 'locked' WHERE name = 'seed'");
    await ctx.client.query('INSERT INTO items (name) VALUES ($1)', [name]);
    transactionGate.arrive();
    await transactionGate.wait;
    await ctx.client.query('INSERT INTO items (name) VALUES ($1)', [`${name} again`]);
  }

  @Communicator()
  static async callOut(_ctx: CommunicatorContext): Promise<string> {
    communicatorGate.arrive();
    await communicatorGate.wait;
    count('callOut returned');
    return 'called';
  }

  @Workflow()
  static async addLater(ctx: WorkflowContext, name: string): Promise<number> {
    await ctx.sleep(3600);
    count('addLater woke');
    return ctx.invoke(Shop).addItem(name);
  }

  @Workflow()
  static async waitAndAdd(ctx: WorkflowContext): Promise<string | null> {
    const name = await ctx.recv<string>('name', 7200);
    count('waitAndAdd heard');
    if (name !== null) await ctx.invoke(Shop).addItem(name);
    return name;
  }

  @Workflow()
  static async announce(ctx: WorkflowContext, value: string): Promise<void> {
    await ctx.setEvent('status', value);
  }

  @Workflow()
  static async callThenAdd(ctx: WorkflowContext, name: string): Promise<void> {
    await ctx.invoke(Shop).callOut();
    count('callThenAdd went on');
    await ctx.invoke(Shop).addItem(name);
  }

  @Workflow()
  static async slowly(ctx: WorkflowContext, name: string): Promise<void> {
    await ctx.invoke(Shop).slowAdd(name);
    count('slowly went on');
  }
}

let app: TestAppDir;
let testRuntime: TestingRuntime;
let startedAt: number;

const systemCount = async (table: string): Promise<number> =>
  Number((await testRuntime.runtime.systemDb.systemPool.query(`SELECT count(*) AS n FROM operon.${table}`)).rows[0].n);
const items = async (): Promise<string[]> => (await testRuntime.queryUserDB<{ name: string }>('SELECT name FROM items ORDER BY id')).map((r) => r.name);

beforeAll(async () => {
  app = makeAppDir('reset', {
    '001_items.sql': [
      'CREATE TABLE categories (id INT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, label TEXT NOT NULL, shout TEXT GENERATED ALWAYS AS (upper(label)) STORED);',
      'CREATE TABLE items (id SERIAL PRIMARY KEY, name TEXT NOT NULL, category INT REFERENCES categories (id));',
      "INSERT INTO categories (label) VALUES ('books'), ('games');",
      "INSERT INTO items (name, category) VALUES ('seed', 1);",
      // Objects of the start besides tables: a reset keeps them.
      "CREATE TYPE size AS ENUM ('s', 'm');",
      'CREATE VIEW item_names AS SELECT name FROM items;',
      'CREATE INDEX items_name ON items (name);',
      "CREATE FUNCTION shout(t TEXT) RETURNS TEXT LANGUAGE sql AS 'SELECT upper(t)';",
    ].join('\n'),
  });
  testRuntime = await createTestingRuntime([Shop], app.configPath, { clock: 'virtual' });
  startedAt = testRuntime.now();
});

afterAll(async () => {
  communicatorGate.open();
  transactionGate.open();
  await testRuntime?.destroy();
  app?.remove();
});

beforeEach(async () => {
  await testRuntime.reset();
});

describe('reset()', () => {
  it('puts the seed rows and sequences back and empties the system records', async () => {
    await testRuntime.queryUserDB("UPDATE items SET name = 'changed' WHERE name = 'seed'");
    await testRuntime.queryUserDB("DELETE FROM categories WHERE label = 'games'");
    await testRuntime.queryUserDB("INSERT INTO categories (label) VALUES ('toys')");
    expect(await (await testRuntime.invoke(Shop, 'wf-same').addLater('x')).getStatus()).toMatchObject({ status: 'PENDING' });
    await testRuntime.invoke(Shop).announce('open').then((h) => h.getResult());
    await testRuntime.send('nobody', 'hello', 'name');
    await testRuntime.advance('30m');

    await testRuntime.reset();

    expect(await items()).toEqual(['seed']);
    expect(await testRuntime.queryUserDB('SELECT id, label, shout FROM categories ORDER BY id')).toEqual([
      { id: 1, label: 'books', shout: 'BOOKS' },
      { id: 2, label: 'games', shout: 'GAMES' },
    ]);
    // The sequences are where the migration left them: the next ids are the same as after a fresh copy.
    expect(await testRuntime.invoke(Shop).addItem('first')).toBe(2);
    expect(await testRuntime.queryUserDB("INSERT INTO categories (label) VALUES ('next') RETURNING id")).toEqual([{ id: 3 }]);
    expect(testRuntime.now()).toBe(startedAt);
    // addItem just ran as a one-operation workflow: that is all there is.
    for (const table of ['workflow_events', 'notifications']) expect(await systemCount(table)).toBe(0);
    expect(await systemCount('workflow_status')).toBe(1);
    expect(await testRuntime.getEvent('wf-same', 'status', 0)).toBeNull();
    expect(await testRuntime.retrieveWorkflow('wf-same').getStatus()).toBeNull();
  });

  it('leaves no timer: a workflow asleep before the reset never wakes after it', async () => {
    const asleep = await testRuntime.invoke(Shop, 'sleeper').addLater('too late');
    await testRuntime.reset();
    await expect(asleep.getResult()).rejects.toBeInstanceOf(OperonShutdownError);
    const woke = ran.get('addLater woke') ?? 0;
    await testRuntime.advance('2h');
    expect(ran.get('addLater woke') ?? 0).toBe(woke);
    expect(await items()).toEqual(['seed']);

    // The same UUID in the next test is a new workflow, which does wake.
    const again = await testRuntime.invoke(Shop, 'sleeper').addLater('on time');
    await testRuntime.advance('1h');
    expect(await again.getResult()).toBe(2);
    expect(ran.get('addLater woke')).toBe(woke + 1);
    expect(await items()).toEqual(['seed', 'on time']);
  });

  it('ends the waits: a workflow waiting for a message before the reset never takes one meant for the next test', async () => {
    const waiting = await testRuntime.invoke(Shop, 'listener').waitAndAdd();
    await testRuntime.advance('1m');
    await testRuntime.reset();
    await expect(waiting.getResult()).rejects.toBeInstanceOf(OperonShutdownError);
    const heard = ran.get('waitAndAdd heard') ?? 0;

    const fresh = await testRuntime.invoke(Shop, 'listener').waitAndAdd();
    await testRuntime.send('listener', 'ada', 'name');
    expect(await fresh.getResult()).toBe('ada');
    expect(ran.get('waitAndAdd heard')).toBe(heard + 1);
    expect(await items()).toEqual(['seed', 'ada']);
  });

  it('fences a workflow in a communicator at the reset: its outcome is never recorded and its code never goes on', async () => {
    communicatorGate = gate();
    const running = await testRuntime.invoke(Shop, 'caller').callThenAdd('leftover');
    await communicatorGate.reached;
    await testRuntime.reset();
    await expect(running.getResult()).rejects.toBeInstanceOf(OperonShutdownError);

    // The next test starts a workflow of the same UUID; then the old call returns.
    const next = await testRuntime.invoke(Shop, 'caller').addLater('next');
    communicatorGate.open();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(ran.get('callOut returned')).toBe(1);
    expect(ran.get('callThenAdd went on')).toBeUndefined();
    const recorded = await testRuntime.runtime.systemDb.systemPool.query("SELECT 1 FROM operon.operation_outputs WHERE function_name = 'Shop.callOut'");
    expect(recorded.rowCount).toBe(0);
    await testRuntime.advance('1h');
    expect(await next.getResult()).toBe(2);
    expect(await items()).toEqual(['seed', 'next']);
  });

  it('fences a workflow in a transaction at the reset: the transaction never commits', async () => {
    transactionGate = gate();
    const running = await testRuntime.invoke(Shop, 'slow').slowly('uncommitted');
    await transactionGate.reached;
    // The reset waits for (or ends) the transaction holding rows of `items`; opened meanwhile, it rolls back.
    const reset = testRuntime.reset();
    setTimeout(() => transactionGate.open(), 20);
    await reset;
    await expect(running.getResult()).rejects.toBeInstanceOf(OperonShutdownError);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(ran.get('slowly went on')).toBeUndefined();
    expect(await items()).toEqual(['seed']);
    expect(await testRuntime.invoke(Shop).addItem('after')).toBe(2);
  });

  it('ends the session of a transaction that does not reach its COMMIT in time: its rows roll back', async () => {
    transactionGate = gate();
    const running = await testRuntime.invoke(Shop, 'stuck').slowly('stuck');
    await transactionGate.reached;
    // The gate stays shut through the reset, the seed row locked: the reset gives up waiting and
    // ends the session (else its DELETE would wait for the lock forever).
    await testRuntime.reset();
    await expect(running.getResult()).rejects.toBeInstanceOf(OperonShutdownError);
    expect(await items()).toEqual(['seed']);
    transactionGate.open();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(ran.get('slowly went on')).toBeUndefined();
    expect(await items()).toEqual(['seed']);
    expect(await testRuntime.invoke(Shop).addItem('after')).toBe(2);
  });

  it('disarms crashAfter, and starts a crashed runtime again', async () => {
    testRuntime.crashAfter('Shop.addItem');
    await testRuntime.reset();
    expect(await testRuntime.invoke(Shop).addItem('not a crash')).toBe(2);
    expect(testRuntime.crashed).toBe(false);

    testRuntime.crashAfter('Shop.addItem');
    await expect(testRuntime.invoke(Shop, 'dies').addItem('crash')).rejects.toBeInstanceOf(OperonShutdownError);
    expect(testRuntime.crashed).toBe(true);
    await testRuntime.reset();
    expect(testRuntime.crashed).toBe(false);
    // The dead run's workflow is gone with the records, not resumed.
    expect(await testRuntime.retrieveWorkflow('dies').getStatus()).toBeNull();
    expect(await items()).toEqual(['seed']);
    expect(await testRuntime.invoke(Shop).addItem('alive')).toBe(2);
  });
});

/** What a test may create in the app database, all of it depending on the start's tables or on each other. */
const CREATED = [
  'CREATE SCHEMA scratch',
  'CREATE TABLE scratch.notes (id SERIAL PRIMARY KEY, body TEXT)',
  "CREATE TYPE mood AS ENUM ('calm', 'busy')",
  'CREATE DOMAIN positive AS INT CHECK (VALUE > 0)',
  'CREATE TABLE tags (id SERIAL PRIMARY KEY, item INT REFERENCES items (id), mood mood, weight positive)',
  "INSERT INTO tags (item, mood, weight) VALUES (1, 'calm', 3)",
  'CREATE SEQUENCE tickets',
  'CREATE VIEW tagged AS SELECT i.name, t.mood FROM items i JOIN tags t ON t.item = i.id',
  'CREATE MATERIALIZED VIEW tag_count AS SELECT count(*) AS n FROM tags',
  'CREATE INDEX items_category ON items (category)',
  'CREATE FUNCTION stamp() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.name := NEW.name || \'!\'; RETURN NEW; END $$',
  'CREATE TRIGGER items_stamp BEFORE INSERT ON items FOR EACH ROW EXECUTE FUNCTION stamp()',
];

/** The app's objects by kind, as the catalog lists them (not Postgres's, Operon's or the seed's). */
const appObjects = async () =>
  (
    await testRuntime.queryUserDB<{ kind: string; name: string }>(
      `SELECT 'relation' AS kind, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname IN ('public', 'scratch') AND c.relkind IN ('r', 'v', 'm', 'S', 'i')
       UNION ALL SELECT 'type', t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd')
       UNION ALL SELECT 'function', p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'
       UNION ALL SELECT 'trigger', tgname FROM pg_trigger WHERE NOT tgisinternal
       UNION ALL SELECT 'schema', nspname FROM pg_namespace WHERE nspname = 'scratch'
       ORDER BY 1, 2`,
    )
  ).map((o) => `${o.kind} ${o.name}`);

describe('reset() and what a test created', () => {
  it('drops the tables, views, sequences, indexes, triggers, functions, types and schemas a test created, and keeps those of the start', async () => {
    const atStart = await appObjects();
    expect(atStart).toEqual(expect.arrayContaining(['relation item_names', 'relation items_name', 'type size', 'function shout']));
    for (const sql of CREATED) await testRuntime.queryUserDB(sql);
    expect(await testRuntime.invoke(Shop).addItem('tagged')).toBe(2);
    expect(await items()).toEqual(['seed', 'tagged!']);

    await testRuntime.reset();

    expect(await appObjects()).toEqual(atStart);
    expect(await items()).toEqual(['seed']);
    // The next test may create them again, under the same names.
    for (const sql of CREATED) await testRuntime.queryUserDB(sql);
    await testRuntime.reset();
    expect(await appObjects()).toEqual(atStart);
  });

  it('fails, naming it, when an object of the start depends on one the test created; and resets once the test undoes that', async () => {
    await testRuntime.queryUserDB("CREATE TYPE mood AS ENUM ('calm', 'busy')");
    await testRuntime.queryUserDB('ALTER TABLE items ADD COLUMN mood mood');
    await expect(testRuntime.reset()).rejects.toThrow(
      /reset: what the test created cannot be dropped without changing what was there at the start: DROP TYPE IF EXISTS public\.mood \(cannot drop type mood because other objects depend on it: column mood of table items depends on type mood\)\. .*undo the change to it in the test/,
    );
    // Nothing of the app database was changed by the failed reset: the column is still there.
    expect(await testRuntime.queryUserDB('SELECT mood FROM items')).toEqual([{ mood: null }]);
    await testRuntime.queryUserDB('ALTER TABLE items DROP COLUMN mood');
    await testRuntime.reset();
    expect(await appObjects()).not.toContain('type mood');
  });
});
