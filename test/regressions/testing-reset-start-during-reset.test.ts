/**
 * A workflow started while the testing runtime's reset() is under way (a test's start racing its
 * beforeEach, a handler or a parent's child start) left the next test a half workflow: started as
 * the reset began, its insert was dropped with the records yet its transaction committed after the
 * reset (a row in the app table of a workflow that does not exist); started a moment later, it was
 * recorded under the instance the reset replaced, stayed PENDING for good, and its handle never
 * settled. Either it belongs before the reset (abandoned, nothing of it left) or after (it runs).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Transaction, Workflow, type TransactionContext, type WorkflowContext } from '@operon/sdk';
import { createTestingRuntime, type TestingRuntime } from '@operon/runtime';
import { makeAppDir, type TestAppDir } from '../testing-runtime/app-dir.js';

class Racer {
  @Transaction()
  static async add(ctx: TransactionContext, name: string): Promise<void> {
    await ctx.client.query('INSERT INTO items (name) VALUES ($1)', [name]);
  }

  @Workflow()
  static async twice(ctx: WorkflowContext, name: string): Promise<string> {
    await ctx.invoke(Racer).add(name);
    await ctx.sleep(1);
    await ctx.invoke(Racer).add(`${name} again`);
    return name;
  }
}

let app: TestAppDir;
let testRuntime: TestingRuntime;
const pause = (ms: number) => new Promise<'unsettled'>((resolve) => setTimeout(() => resolve('unsettled'), ms));

beforeAll(async () => {
  app = makeAppDir('reset_race', { '001_items.sql': 'CREATE TABLE items (id SERIAL PRIMARY KEY, name TEXT NOT NULL);' });
  testRuntime = await createTestingRuntime([Racer], app.configPath, { clock: 'virtual' });
});

afterAll(async () => {
  await testRuntime?.destroy();
  app?.remove();
});

describe('a start during reset()', () => {
  it('is either abandoned with nothing left or runs whole, and its handle settles', async () => {
    for (const delayMs of [0, 1, 2, 3, 5, 8]) {
      await testRuntime.reset();
      const reset = testRuntime.reset();
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      const outcome = testRuntime
        .invoke(Racer, 'racer')
        .twice('racer')
        .then((handle) => handle.getResult())
        .then(
          (value) => `returned ${value}`,
          (error: Error) => error.name,
        );
      await reset;
      await testRuntime.advance('2s');
      const settled = await Promise.race([outcome, pause(3000)]);
      const items = (await testRuntime.queryUserDB<{ name: string }>('SELECT name FROM items ORDER BY id')).map((r) => r.name);
      const status = (await testRuntime.runtime.systemDb.systemPool.query('SELECT status FROM operon.workflow_status')).rows.map((r) => r.status);
      const seen = { delayMs, settled, items, status };
      if (settled === 'returned racer') expect(seen).toEqual({ delayMs, settled, items: ['racer', 'racer again'], status: ['SUCCESS'] });
      else expect(seen).toEqual({ delayMs, settled: 'OperonShutdownError', items: [], status: [] });
    }
  });
});
