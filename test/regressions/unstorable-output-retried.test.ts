/**
 * Regression: a communicator whose output could not be stored (once a BigInt, which JSON could not
 * hold; the codec now stores BigInts, so here an instance of a class never registered with
 * registerSerializableClass, which it refuses) failed inside its retry loop, so it ran again and again, repeating its side effect three times
 * before the workflow heard of it. A value that cannot be stored is the operation's error, outside
 * the retry loop: the communicator runs once, and the workflow sees OPERON_ERR_VALUE_NOT_SERIALIZABLE.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Communicator, Workflow, type CommunicatorContext, type WorkflowContext } from '@operon/sdk';
import { createTestingRuntime, type TestingRuntime } from '@operon/runtime';
import { within, writeAppDir, type AppDir } from '../helpers/app-dir.js';

let charges = 0;

/** Never registered with registerSerializableClass, so its instances cannot be stored. */
class Receipt {
  constructor(readonly cents: number) {}
}

class Payments {
  /**
   * Its side effect happens, then it returns what cannot be stored: an unregistered class's
   * instance would come back without its prototype, so the codec refuses it.
   */
  @Communicator({ intervalSeconds: 0.05, maxAttempts: 3 })
  static async charge(_ctx: CommunicatorContext, cents: number): Promise<Receipt> {
    charges++;
    return new Receipt(cents);
  }

  @Workflow()
  static async pay(ctx: WorkflowContext, cents: number): Promise<string> {
    try {
      await ctx.invoke(Payments).charge(cents);
      return 'charged';
    } catch (error) {
      const { code, path } = error as { code?: string; path?: string };
      return `refused: ${code} at ${path}`;
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
    expect({ result, charges }).toEqual({ result: 'refused: OPERON_ERR_VALUE_NOT_SERIALIZABLE at output', charges: 1 });
    expect((await handle.getStatus())?.status).toBe('SUCCESS');
  });
});
