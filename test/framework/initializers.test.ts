/**
 * `@Initializer()`: runs once per start, after migrations and recovery and before the runtime
 * serves; its context queries the app database and reads the config; a throwing one stops the
 * start naming it (and the runtime it started is closed again: the leak check would see it).
 */
import { afterEach, expect, it } from 'vitest';
import { GetApi, Initializer, Workflow, type HandlerContext, type InitContext, type WorkflowContext } from '@operon/sdk';
import { createTestingRuntime, OperonInitializerError, type TestingRuntime } from '@operon/runtime';
import { writeAppDir, type AppDir } from '../helpers/app-dir.js';

const calls: string[] = [];

class Seed {
  @Initializer()
  static async seed(ctx: InitContext): Promise<void> {
    calls.push('seed');
    const plan = ctx.getConfig<string>('plans.default', 'none');
    await ctx.queryUserDB('CREATE TABLE IF NOT EXISTS plans (name text PRIMARY KEY)');
    await ctx.queryUserDB('INSERT INTO plans(name) VALUES ($1) ON CONFLICT DO NOTHING', plan);
    const rows = await ctx.queryUserDB<{ n: number }>('SELECT count(*)::int AS n FROM plans');
    ctx.logger.info({ plans: rows[0]!.n }, 'seeded');
  }

  @GetApi('/plans')
  static async plans(_ctx: HandlerContext): Promise<string> {
    return calls.join(',');
  }
}

class Broken {
  @Initializer()
  static async first(_ctx: InitContext): Promise<void> {
    throw new Error('the seed file is missing\nsecond line');
  }

  @Initializer()
  static async second(_ctx: InitContext): Promise<void> {
    calls.push('second');
  }
}

class Confused {
  @Initializer()
  @Workflow()
  static async both(_ctx: WorkflowContext): Promise<void> {}
}

let dir: AppDir | undefined;
let testing: TestingRuntime | undefined;
afterEach(async () => {
  await testing?.destroy();
  testing = undefined;
  dir?.remove();
  calls.length = 0;
});

it('runs each initializer once, before the runtime serves, with the app database and config', async () => {
  dir = writeAppDir('init', { application: { plans: { default: 'free' } } });
  testing = await createTestingRuntime([Seed], dir.configPath);
  expect(calls).toEqual(['seed']);
  const rows = await testing.queryUserDB<{ name: string }>('SELECT name FROM plans');
  expect(rows).toEqual([{ name: 'free' }]);
  expect((await testing.inject({ method: 'GET', url: '/plans' })).body).toBe('seed');
});

it('a throwing initializer stops the start with one line naming it; later ones do not run', async () => {
  dir = writeAppDir('initfail', { logLevel: 'error' });
  const start = createTestingRuntime([Broken], dir.configPath);
  await expect(start).rejects.toBeInstanceOf(OperonInitializerError);
  await expect(start).rejects.toThrow(/^initializer Broken\.first failed: the seed file is missing$/);
  expect(calls).toEqual([]);
});

it('refuses an initializer that is also a workflow', async () => {
  dir = writeAppDir('initboth', { logLevel: 'error' });
  await expect(createTestingRuntime([Confused], dir.configPath)).rejects.toThrow(
    'initializer Confused.both is also a workflow; an @Initializer must be a method of its own',
  );
});
