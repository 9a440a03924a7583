/**
 * A communicator in its backoff calls out again after its runtime gave its workflow up.
 *
 * A failed attempt waits its backoff and calls the app's code again (communicator-step.ts) without
 * asking whether its run still goes on: after the testing runtime's reset() ("every workflow of
 * this process is abandoned: its code never runs again"), after a crash (crashAfter: "nothing more
 * runs") and its recover(), whose new run of the workflow calls the same communicator beside it,
 * and after a stop, the abandoned attempt loop goes on calling out every interval until its
 * attempts run out. In `operon start` the same loop runs between the stop's handover (the
 * instance marked stopped: other executors adopt at once) and the process's exit.
 *
 * Reproduction: a communicator that always fails, tried again every 300 ms; its workflow is
 * abandoned (reset, crash) while it waits for a retry. Expected: no attempt of the abandoned run
 * after the abandon.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Communicator, Transaction, Workflow, type CommunicatorContext, type TransactionContext, type WorkflowContext } from '@operon/sdk';
import { createTestingRuntime, type TestingRuntime } from '@operon/runtime';
import { makeAppDir, type TestAppDir } from '../testing-runtime/app-dir.js';

const RETRY_MS = 300;
/** Every attempt: which run (the workflow's argument) made it, and when. */
const attempts: { run: string; at: number }[] = [];
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

class Calling {
  @Communicator({ intervalSeconds: RETRY_MS / 1000, backoffRate: 1, maxAttempts: 20 })
  static async callOut(_ctx: CommunicatorContext, run: string): Promise<void> {
    attempts.push({ run, at: Date.now() });
    throw new Error('the service is down');
  }

  @Transaction()
  static async mark(_ctx: TransactionContext): Promise<number> {
    return 1;
  }

  @Workflow()
  static async calling(ctx: WorkflowContext, run: string): Promise<string> {
    await ctx.invoke(Calling).callOut(run);
    return 'called';
  }

  /** The communicator and a transaction side by side: a crash after the transaction leaves the communicator in its backoff. */
  @Workflow()
  static async callingBeside(ctx: WorkflowContext, run: string): Promise<string> {
    await Promise.all([ctx.invoke(Calling).callOut(run), pause(RETRY_MS / 2).then(() => ctx.invoke(Calling).mark())]);
    return 'called';
  }
}

const attemptsOf = (run: string, since = 0) => attempts.filter((a) => a.run === run && a.at >= since).length;
async function untilAttempted(run: string): Promise<void> {
  for (let i = 0; attemptsOf(run) === 0; i++) {
    if (i > 500) throw new Error(`no attempt of ${run}`);
    await pause(10);
  }
}

let app: TestAppDir;
let testRuntime: TestingRuntime;

beforeAll(async () => {
  app = makeAppDir('retrystop', {});
  testRuntime = await createTestingRuntime([Calling], app.configPath);
});

afterAll(async () => {
  await testRuntime?.destroy();
  app?.remove();
});

describe('a communicator waiting for its retry when its run is abandoned', () => {
  it('calls out no more after the testing runtime\'s reset()', async () => {
    void (await testRuntime.invoke(Calling).calling('before-reset')).getResult().catch(() => undefined);
    await untilAttempted('before-reset');
    await testRuntime.reset();
    const resetAt = Date.now();
    await pause(3 * RETRY_MS);
    expect(attemptsOf('before-reset', resetAt), 'attempts after the reset').toBe(0);
  });

  it('calls out no more after a crash (crashAfter)', async () => {
    testRuntime.crashAfter('Calling.mark');
    void (await testRuntime.invoke(Calling).callingBeside('crashed')).getResult().catch(() => undefined);
    await untilAttempted('crashed');
    for (let i = 0; !testRuntime.crashed; i++) {
      if (i > 500) throw new Error('no crash');
      await pause(10);
    }
    const crashedAt = Date.now();
    await pause(3 * RETRY_MS);
    const afterCrash = attemptsOf('crashed', crashedAt);
    await testRuntime.reset();
    expect(afterCrash, 'attempts of the dead runtime after its crash').toBe(0);
  });
});
