/**
 * After crashAfter, the dead runtime writes nothing more, as a SIGKILLed process could not: a
 * communicator still calling out in another branch of a Promise.all when the named operation is
 * recorded finishes in vain, and recover() runs it again (it was never recorded). Before, its
 * record was written in the moments after the crash (the pools were still open until the
 * sessions were ended), so the test saw it run once where a real crash runs it twice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Communicator, OperonShutdownError, Workflow, type CommunicatorContext, type WorkflowContext } from '@operon/sdk';
import { createTestingRuntime, type TestingRuntime } from '@operon/runtime';
import { makeAppDir, type TestAppDir } from '../testing-runtime/app-dir.js';

const ran = new Map<string, number>();
const count = (name: string) => ran.set(name, (ran.get(name) ?? 0) + 1);
/** Holds the first call of `slow` until the test lets it go. */
let letSlowGo: () => void = () => undefined;
const slowHeld = new Promise<void>((resolve) => (letSlowGo = resolve));

class Fan {
  @Communicator()
  static async fast(_ctx: CommunicatorContext): Promise<string> {
    count('fast');
    return 'fast';
  }

  @Communicator()
  static async slow(_ctx: CommunicatorContext): Promise<string> {
    count('slow');
    await slowHeld;
    return 'slow';
  }

  @Workflow()
  static async both(ctx: WorkflowContext): Promise<string[]> {
    return Promise.all([ctx.invoke(Fan).fast(), ctx.invoke(Fan).slow()]);
  }
}

let app: TestAppDir;
let testRuntime: TestingRuntime;

beforeAll(async () => {
  app = makeAppDir('crashinflight', {});
  testRuntime = await createTestingRuntime([Fan], app.configPath, { clock: 'virtual' });
});

afterAll(async () => {
  await testRuntime?.destroy();
  app?.remove();
});

describe('a crash in a Promise.all fan-out', () => {
  it('does not record the operation still in flight: the recovery runs it again', async () => {
    testRuntime.crashAfter('Fan.fast');
    const handle = await testRuntime.invoke(Fan, 'fan-1').both();
    await expect(handle.getResult()).rejects.toBeInstanceOf(OperonShutdownError);
    // The dead runtime's communicator returns at once, while its pools may still be open.
    letSlowGo();
    expect(await testRuntime.recover()).toBe(1);
    expect(await testRuntime.retrieveWorkflow('fan-1').getResult()).toEqual(['fast', 'slow']);
    expect(Object.fromEntries(ran)).toEqual({ fast: 1, slow: 2 });
  });
});
