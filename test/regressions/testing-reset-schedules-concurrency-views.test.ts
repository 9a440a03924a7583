/**
 * Three things the testing runtime's reset() left behind or broke:
 *
 * - The schedules never tick again after a reset: the reset starts the schedules anew, then moves
 *   the virtual clock back to its start, which cancels every timer, the new schedules' too.
 * - Two resets at once (Promise.all, or a beforeEach racing a forgotten one) leave the executor
 *   with no row in the system database: the second moves the row from the instance the first one
 *   had already moved away from, and drops every other executor's row, the first one's new row too.
 * - A materialized view keeps what a test refreshed into it: the reset puts the tables back, but
 *   a view over them still shows the previous test's rows.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Scheduled, Transaction, Workflow, type TransactionContext, type WorkflowContext } from '@operon/sdk';
import { createTestingRuntime, type TestingRuntime } from '@operon/runtime';
import { makeAppDir, type TestAppDir } from '../testing-runtime/app-dir.js';

class Ticks {
  @Scheduled({ crontab: '* * * * *' })
  @Workflow()
  static async everyMinute(_ctx: WorkflowContext, scheduledTime: Date, _startTime: Date): Promise<string> {
    return scheduledTime.toISOString();
  }

  @Transaction()
  static async add(ctx: TransactionContext, name: string): Promise<void> {
    await ctx.client.query('INSERT INTO items (name) VALUES ($1)', [name]);
  }
}

let app: TestAppDir;
let testRuntime: TestingRuntime;
const systemRows = async (sql: string) => (await testRuntime.runtime.systemDb.systemPool.query(sql)).rows;
const ticks = async () => Number((await systemRows("SELECT count(*) AS n FROM operon.workflow_status WHERE workflow_name = 'Ticks.everyMinute'"))[0].n);
/** The ticks' workflows run on the real clock once started: a moment for them to be recorded. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 300));

beforeAll(async () => {
  app = makeAppDir('reset_holes', {
    '001_items.sql': [
      'CREATE TABLE items (id SERIAL PRIMARY KEY, name TEXT NOT NULL);',
      "INSERT INTO items (name) VALUES ('seed');",
      'CREATE MATERIALIZED VIEW item_names AS SELECT name FROM items;',
    ].join('\n'),
  });
  testRuntime = await createTestingRuntime([Ticks], app.configPath, { clock: 'virtual' });
});

afterAll(async () => {
  await testRuntime?.destroy();
  app?.remove();
});

describe('reset()', () => {
  it('leaves the schedules ticking: after a reset, the same minutes tick as after the start', async () => {
    await testRuntime.advance('3m');
    await settle();
    const first = await ticks();
    expect(first).toBeGreaterThan(0);
    await testRuntime.reset();
    await testRuntime.advance('3m');
    await settle();
    expect(await ticks()).toBe(first);
  });

  it('run twice at once, leaves the executor its row', async () => {
    await Promise.all([testRuntime.reset(), testRuntime.reset()]);
    expect(await systemRows('SELECT instance_id FROM operon.executors')).toEqual([{ instance_id: testRuntime.runtime.executor.lease.instanceId }]);
    await testRuntime.invoke(Ticks).add('after');
    expect(await testRuntime.queryUserDB('SELECT name FROM items ORDER BY id')).toEqual([{ name: 'seed' }, { name: 'after' }]);
  });

  it('puts a materialized view back as it was at the start', async () => {
    await testRuntime.invoke(Ticks).add('leftover');
    await testRuntime.queryUserDB('REFRESH MATERIALIZED VIEW item_names');
    await testRuntime.reset();
    expect(await testRuntime.queryUserDB('SELECT name FROM item_names')).toEqual([{ name: 'seed' }]);
  });
});
