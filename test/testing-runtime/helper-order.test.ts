/**
 * The testing runtime's helpers that move its state (reset, recover, advance, runUntilIdle,
 * destroy) take effect one after another in the order they were called, even when a test calls
 * them at once; and a crashAfter that fires while the clock moves stops the clock there at once.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Communicator, GetApi, OperonShutdownError, Transaction, Workflow, type CommunicatorContext, type HandlerContext, type TransactionContext, type WorkflowContext } from '@operon/sdk';
import { createTestingRuntime, OperonTestingCrashedError, OperonTestingFromWorkflowError, OperonTestingUsageError, type TestingRuntime } from '@operon/runtime';
import { makeAppDir, type TestAppDir } from './app-dir.js';

/** How many times each piece of code ran, in this process. */
const ran = new Map<string, number>();
const count = (name: string) => ran.set(name, (ran.get(name) ?? 0) + 1);

class Reminders {
  @Communicator()
  static async notify(_ctx: CommunicatorContext, who: string): Promise<string> {
    count(`notify ${who}`);
    return `notified ${who}`;
  }

  @Workflow()
  static async notifyNow(ctx: WorkflowContext, who: string): Promise<string> {
    return ctx.invoke(Reminders).notify(who);
  }

  @Workflow()
  static async remind(ctx: WorkflowContext, who: string): Promise<string> {
    await ctx.sleep(3600);
    const notified = await ctx.invoke(Reminders).notify(who);
    await ctx.sleep(3600);
    return `${notified} twice`;
  }

  @GetApi('/remind/:who')
  static async remindOverHttp(ctx: HandlerContext, who: string): Promise<string> {
    return (await ctx.invoke(Reminders).remind(who)).getWorkflowUUID();
  }
}

/** A helper of the testing runtime, as code of the app would call it. */
type Helper = 'advance' | 'runUntilIdle' | 'reset' | 'recover' | 'destroy';
async function callHelper(helper: Helper): Promise<string> {
  try {
    await (helper === 'advance' ? testRuntime.advance('1h') : testRuntime[helper]());
    return `${helper} returned`;
  } catch (error) {
    return `${(error as { code?: string }).code}: ${(error as Error).message}`;
  }
}

/** Code of the app that (wrongly) awaits the testing runtime's helpers. */
class Meddler {
  @Transaction()
  static async fromTransaction(_ctx: TransactionContext, helper: Helper): Promise<string> {
    return callHelper(helper);
  }

  @Communicator()
  static async fromCommunicator(_ctx: CommunicatorContext, helper: Helper): Promise<string> {
    return callHelper(helper);
  }

  @Workflow()
  static async fromWorkflow(ctx: WorkflowContext, helper: Helper): Promise<string[]> {
    await ctx.sleep(1);
    return [await callHelper(helper), await ctx.invoke(Meddler).fromCommunicator(helper), await ctx.invoke(Meddler).fromTransaction(helper)];
  }
}

let app: TestAppDir;
let testRuntime: TestingRuntime;

beforeAll(async () => {
  app = makeAppDir('helperorder', {});
  testRuntime = await createTestingRuntime([Reminders, Meddler], app.configPath, { clock: 'virtual' });
});

beforeEach(async () => {
  ran.clear();
  await testRuntime.reset();
});

afterAll(async () => {
  await testRuntime?.destroy();
  app?.remove();
});

describe('a crash while the clock moves', () => {
  it('advance stops at the crash at once, saying where; recover() and advance again finish the rest', async () => {
    const start = testRuntime.now();
    testRuntime.crashAfter('Reminders.notify');
    const handle = await testRuntime.invoke(Reminders, 'remind-ada').remind('ada');
    const advancing = testRuntime.advance('3h');
    await expect(advancing).rejects.toBeInstanceOf(OperonTestingCrashedError);
    await expect(advancing).rejects.toThrow(/advance\('3h'\): the runtime crashed after Reminders\.notify at \+1h \(.*\), 2h short of the 3h asked for: call recover\(\), then advance\('2h'\) for the rest/);
    await expect(handle.getResult()).rejects.toBeInstanceOf(OperonShutdownError);
    expect(testRuntime.crashed).toBe(true);
    // The clock stands at the crash: the recovered workflow sleeps its second hour from there.
    expect(testRuntime.now() - start).toBe(3_600_000);
    expect(await testRuntime.recover()).toBe(1);
    await testRuntime.advance('59m');
    expect((await testRuntime.retrieveWorkflow('remind-ada').getStatus())?.status).toBe('PENDING');
    await testRuntime.advance('1m');
    expect(await testRuntime.retrieveWorkflow('remind-ada').getResult()).toBe('notified ada twice');
    expect(Object.fromEntries(ran)).toEqual({ 'notify ada': 1 });
  });

  it('runUntilIdle stops at the crash too', async () => {
    testRuntime.crashAfter('Reminders.notify');
    await testRuntime.invoke(Reminders, 'remind-bo').remind('bo');
    await expect(testRuntime.runUntilIdle()).rejects.toThrow(/runUntilIdle\(\): the runtime crashed after Reminders\.notify at \+1h .*: call recover\(\), then runUntilIdle\(\) for the rest/);
    expect(await testRuntime.recover()).toBe(1);
    await testRuntime.runUntilIdle();
    expect(await testRuntime.retrieveWorkflow('remind-bo').getResult()).toBe('notified bo twice');
  });
});

describe('helpers called at once run one after another', () => {
  it('a reset of a crashed runtime starts it again without resuming any workflow of the test before', async () => {
    testRuntime.crashAfter('Reminders.notifyNow');
    const handle = await testRuntime.invoke(Reminders, 'notify-hal').notifyNow('hal');
    await expect(handle.getResult()).rejects.toBeInstanceOf(OperonShutdownError);
    await testRuntime.reset();
    await testRuntime.runUntilIdle();
    expect(ran.size).toBe(0);
    expect(await testRuntime.retrieveWorkflow('notify-hal').getStatus()).toBeNull();
  });

  it('reset and recover at once: the reset restarts the crashed runtime without its workflows, and the recover has nothing left to recover', async () => {
    testRuntime.crashAfter('Reminders.notifyNow');
    const handle = await testRuntime.invoke(Reminders, 'remind-cy').notifyNow('cy');
    await expect(handle.getResult()).rejects.toBeInstanceOf(OperonShutdownError);
    const [reset, recovered] = await Promise.allSettled([testRuntime.reset(), testRuntime.recover()]);
    expect(reset.status).toBe('fulfilled');
    expect(recovered.status === 'rejected' && String(recovered.reason)).toMatch(/recover: the runtime has not crashed/);
    expect(testRuntime.crashed).toBe(false);
    // Nothing of the workflow of before runs: the reset took its records.
    await testRuntime.runUntilIdle();
    expect(ran.size).toBe(0);
    expect(await testRuntime.retrieveWorkflow('remind-cy').getStatus()).toBeNull();
    // The runtime serves, with its executor row.
    const rows = await testRuntime.runtime.systemDb.systemPool.query('SELECT count(*)::int AS n FROM operon.executors WHERE instance_id = $1', [testRuntime.runtime.executor.lease.instanceId]);
    expect(rows.rows).toEqual([{ n: 1 }]);
    expect(await (await testRuntime.invoke(Reminders, 'remind-dee').remind('dee')).getStatus()).not.toBeNull();
  });

  it('recover then reset at once: the recovery runs first, and the reset abandons the workflow it resumed', async () => {
    testRuntime.crashAfter('Reminders.remind');
    const handle = await testRuntime.invoke(Reminders, 'remind-eve').remind('eve');
    await expect(handle.getResult()).rejects.toBeInstanceOf(OperonShutdownError);
    const [recovered, reset] = await Promise.allSettled([testRuntime.recover(), testRuntime.reset()]);
    expect(recovered).toEqual({ status: 'fulfilled', value: 1 });
    expect(reset.status).toBe('fulfilled');
    await testRuntime.advance('3h');
    expect(ran.size).toBe(0);
    expect(await testRuntime.retrieveWorkflow('remind-eve').getStatus()).toBeNull();
  });

  it('reset during advance: the advance finishes first, and the clock is back at its start after the reset', async () => {
    const start = testRuntime.now();
    await testRuntime.invoke(Reminders, 'remind-fay').remind('fay');
    await Promise.all([testRuntime.advance('3h'), testRuntime.reset()]);
    expect(testRuntime.now()).toBe(start);
    expect(Object.fromEntries(ran)).toEqual({ 'notify fay': 1 });
    await testRuntime.advance('3h');
    expect(await testRuntime.retrieveWorkflow('remind-fay').getStatus()).toBeNull();
  });

  it('advance during a reset: it moves the clock of the next test', async () => {
    const start = testRuntime.now();
    await testRuntime.invoke(Reminders, 'remind-gus').remind('gus');
    const resetting = testRuntime.reset();
    await testRuntime.advance('3h');
    await resetting;
    expect(testRuntime.now() - start).toBe(3 * 3_600_000);
    expect(ran.size).toBe(0);
  });

  it('two advances at once add up', async () => {
    const start = testRuntime.now();
    await Promise.all([testRuntime.advance('1h'), testRuntime.advance('30m')]);
    expect(testRuntime.now() - start).toBe(90 * 60_000);
  });

  it('crashAfter called while a reset is under way arms after it: the reset before it does not disarm it', async () => {
    const resetting = testRuntime.reset();
    const arming = testRuntime.crashAfter('Reminders.notifyNow');
    await resetting;
    // Armed once the reset finished, before the line after its await: the crash comes right after the start.
    const handle = await testRuntime.invoke(Reminders, 'notify-ivy').notifyNow('ivy');
    await expect(handle.getResult()).rejects.toBeInstanceOf(OperonShutdownError);
    await arming;
    expect(testRuntime.crashed).toBe(true);
    expect(ran.size).toBe(0);
    expect(await testRuntime.recover()).toBe(1);
    expect(await testRuntime.retrieveWorkflow('notify-ivy').getResult()).toBe('notified ivy');
  });

  it('crashAfter behind a reset is refused in its turn when one is armed after the reset', async () => {
    const resetting = testRuntime.reset();
    const first = testRuntime.crashAfter('Reminders.notify');
    const second = testRuntime.crashAfter('Reminders.remind');
    await resetting;
    await first;
    await expect(second).rejects.toThrow(/crashAfter: already armed for Reminders\.notify, which has not fired yet/);
    // An unknown name is refused at once, even behind a reset.
    const again = testRuntime.reset();
    expect(() => testRuntime.crashAfter('Reminders.nothing')).toThrow(/crashAfter: no registered operation is named "Reminders\.nothing"/);
    await again;
  });

  it('a helper called with a bad argument is refused at once, not after those before it', async () => {
    const resetting = testRuntime.reset();
    await expect(testRuntime.advance('soon' as never)).rejects.toBeInstanceOf(OperonTestingUsageError);
    await resetting;
  });
});

describe('helpers refuse what would never work', () => {
  it('a helper awaited from inside a workflow, transaction or communicator of this runtime fails at once, naming the helper and the workflow', async () => {
    for (const helper of ['advance', 'runUntilIdle', 'reset', 'recover', 'destroy'] as const) {
      const handle = await testRuntime.invoke(Meddler, `meddle-${helper}`).fromWorkflow(helper);
      await testRuntime.advance('1s');
      const messages = await handle.getResult();
      expect(messages).toHaveLength(3);
      for (const message of messages) {
        expect(message).toMatch(new RegExp(`^OPERON_ERR_TESTING_FROM_WORKFLOW: ${helper}: called from inside Meddler\\.fromWorkflow \\(workflow meddle-${helper}\\) of this testing runtime: .*Call the testing runtime's helpers from the test, never from a workflow, transaction or communicator$`));
      }
    }
    // A communicator invoked directly runs as a workflow of its own, and is named.
    expect(await testRuntime.invoke(Meddler, 'meddle-direct').fromCommunicator('reset')).toMatch(/^OPERON_ERR_TESTING_FROM_WORKFLOW: reset: called from inside Meddler\.fromCommunicator \(workflow meddle-direct\)/);
    // The runtime is whole: nothing was reset or destroyed.
    expect(await testRuntime.retrieveWorkflow('meddle-reset').getResult()).toHaveLength(3);
    expect(OperonTestingFromWorkflowError.CODE).toBe('OPERON_ERR_TESTING_FROM_WORKFLOW');
  });


  it('crashAfter refuses a handler (nothing of it is recorded) and a second crash while one is armed', async () => {
    expect(() => testRuntime.crashAfter('Reminders.remindOverHttp')).toThrow(
      /crashAfter: Reminders\.remindOverHttp is not a workflow, transaction or communicator \(nothing of it is recorded, so the crash would never come\); name an operation it invokes \(operations: Reminders\.notify, /,
    );
    testRuntime.crashAfter('Reminders.notify');
    expect(() => testRuntime.crashAfter('Reminders.remind')).toThrow(/crashAfter: already armed for Reminders\.notify, which has not fired yet; one crash is armed at a time \(reset\(\) disarms it\)/);
    await testRuntime.reset();
    testRuntime.crashAfter('Reminders.remind');
  });

  it('runUntilIdle refuses an option it does not know', async () => {
    await expect(testRuntime.runUntilIdle({ maxDeadline: 3 } as never)).rejects.toThrow(/runUntilIdle: unknown option "maxDeadline": the options are maxDeadlines and timeoutMs/);
  });
});
