/**
 * Regression: the contexts' `getConfig` walked the `application` section with `in`, so
 * `getConfig('constructor')` returned the `Object` function, `getConfig('__proto__')` the object
 * prototype, and a key written with no value `null` instead of the default. Only the section's own
 * keys are read (docs/configuration.md): anything else gives the default, in every context.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Communicator,
  GetApi,
  Transaction,
  Workflow,
  type CommunicatorContext,
  type HandlerContext,
  type TransactionContext,
  type WorkflowContext,
} from '@operon/sdk';
import { createTestingRuntime, type TestingRuntime } from '@operon/runtime';
import { writeAppDir, type AppDir } from '../helpers/app-dir.js';

interface ConfigReader {
  getConfig<T>(key: string, defaultValue?: T): T | undefined;
}

/** Each look-up, shown so that a function or a prototype cannot pass for a plain value. */
function lookups(ctx: ConfigReader): Record<string, string> {
  const show = (value: unknown) =>
    value === undefined ? 'undefined' : typeof value === 'function' ? `function ${(value as { name: string }).name}` : JSON.stringify(value);
  const keys = ['constructor', '__proto__', '', 'toString', 'nested.constructor', 'nested.__proto__', 'blank', 'greeting', 'nested.value'];
  const shown: Record<string, string> = {};
  for (const key of keys) {
    // Labels, not the keys themselves: an own `__proto__` key would not survive an object literal.
    shown[`[${key}]`] = show(ctx.getConfig(key));
    shown[`[${key}] with a default`] = show(ctx.getConfig(key, 'the default'));
  }
  return shown;
}

const EXPECTED: Record<string, string> = {};
for (const key of ['constructor', '__proto__', '', 'toString', 'nested.constructor', 'nested.__proto__', 'blank']) {
  EXPECTED[`[${key}]`] = 'undefined';
  EXPECTED[`[${key}] with a default`] = '"the default"';
}
Object.assign(EXPECTED, {
  '[greeting]': '"hello"',
  '[greeting] with a default': '"hello"',
  '[nested.value]': '0',
  '[nested.value] with a default': '0',
});

class Config {
  @Transaction({ readOnly: true })
  static async inTransaction(ctx: TransactionContext): Promise<Record<string, string>> {
    return lookups(ctx);
  }

  @Communicator()
  static async inCommunicator(ctx: CommunicatorContext): Promise<Record<string, string>> {
    return lookups(ctx);
  }

  @Workflow()
  static async inWorkflow(ctx: WorkflowContext): Promise<Record<string, Record<string, string>>> {
    return {
      workflow: lookups(ctx),
      transaction: await ctx.invoke(Config).inTransaction(),
      communicator: await ctx.invoke(Config).inCommunicator(),
    };
  }

  @GetApi('/config')
  static async inHandler(ctx: HandlerContext): Promise<Record<string, string>> {
    return lookups(ctx);
  }
}

let app: AppDir;
let testRuntime: TestingRuntime | undefined;

beforeAll(async () => {
  app = writeAppDir('getconfig', { application: { greeting: 'hello', blank: null, nested: { value: 0 } } });
  testRuntime = await createTestingRuntime([Config], app.configPath);
});

afterAll(async () => {
  await testRuntime?.destroy();
  app?.remove();
});

describe('getConfig with a key that is not the application section’s own', () => {
  it('gives the default in workflow, transaction and communicator contexts', async () => {
    const seen = await (await testRuntime!.invoke(Config).inWorkflow()).getResult();
    expect(seen).toEqual({ workflow: EXPECTED, transaction: EXPECTED, communicator: EXPECTED });
  });

  it('gives the default in a handler context', async () => {
    const res = await testRuntime!.inject({ method: 'GET', url: '/config' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual(EXPECTED);
  });
});
