/**
 * Regression: a communicator whose output could not be stored (a BigInt, which JSON cannot hold)
 * failed inside its retry loop, so it ran again and again, repeating its side effect three times
 * before the workflow heard of it. A value that cannot be stored is the operation's error, outside
 * the retry loop: the communicator runs once, and the workflow sees OPERON_ERR_VALUE_NOT_SERIALIZABLE.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Communicator, Workflow, type CommunicatorContext, type WorkflowContext } from '@operon/sdk';
import { createTestingRuntime, type TestingRuntime } from '@operon/runtime';
import { within, writeAppDir, type AppDir } from '../helpers/app-dir.js';

let charges = 0;

class Payments {
  /**
   * Its side effect happens, then it returns what cannot be stored. (A BigInt cannot be stored
   * as JSON; should the codec learn BigInts, this needs another value it cannot store.)
   */
  @Communicator({ intervalSeconds: 0.05, maxAttempts: 3 })
  static async charge(_ctx: CommunicatorContext, cents: number): Promise<bigint> {
    charges++;
    return BigInt(cents) * 10n ** 20n;
  }

  @Workflow()
  static async pay(ctx: WorkflowContext, cents: number): Promise<string> {
    try {
      await ctx.invoke(Payments).charge(cents);
      return 'charged';
    } catch (error) {
      return `refused: ${(error as { code?: string }).code}`;
    }
  }
}

let app: AppDir;
let testRuntime: TestingRuntime | undefined;

beforeAll(async () => {
  app = writeAppDir('unstorable', { logLevel: 'error' });
  testRuntime = await createTestingRuntime([Payments], app.configPath);
});

afterAll(async () => {
  await testRuntime?.destroy();
  app?.remove();
});

describe('a communicator whose output cannot be stored', () => {
  it('runs once, and the workflow sees OPERON_ERR_VALUE_NOT_SERIALIZABLE', async () => {
    const handle = await testRuntime!.invoke(Payments, 'pay-1').pay(500);
    const result = await within(handle.getResult(), 10_000, 'no result after 10 s');
    expect({ result, charges }).toEqual({ result: 'refused: OPERON_ERR_VALUE_NOT_SERIALIZABLE', charges: 1 });
    expect((await handle.getStatus())?.status).toBe('SUCCESS');
  });
});
