/**
 * Regression: crashAfter takes its turn behind the helpers under way, so a communicator that
 * armed a crash (`await testRuntime.crashAfter(...)`) while the test awaited runUntilIdle() waited
 * for runUntilIdle to finish, and runUntilIdle waited for that communicator to finish: 30 s of real
 * time, then runUntilIdle failed with "kept working ... without a quiet moment", and the crash meant
 * for that run came too late. Called from the code of one of its own workflows, crashAfter arms at
 * once: that code runs on the live runtime, after whatever the test awaited before.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Communicator, Workflow, type CommunicatorContext, type WorkflowContext } from '@operon/sdk';
import { createTestingRuntime, OperonTestingCrashedError, type TestingRuntime } from '@operon/runtime';
import { makeAppDir, type TestAppDir } from '../testing-runtime/app-dir.js';

const ran: string[] = [];

class Armer {
  @Communicator()
  static async arm(_ctx: CommunicatorContext): Promise<string> {
    await testRuntime.crashAfter('Armer.ship');
    ran.push('arm');
    return 'armed';
  }

  @Communicator()
  static async ship(_ctx: CommunicatorContext, n: number): Promise<number> {
    ran.push(`ship ${n}`);
    return n;
  }

  @Workflow()
  static async order(ctx: WorkflowContext): Promise<number> {
    // Asleep until the test's runUntilIdle() fires the deadline: the communicator runs under it.
    await ctx.sleep(60);
    await ctx.invoke(Armer).arm();
    await ctx.invoke(Armer).ship(1);
    return ctx.invoke(Armer).ship(2);
  }
}

let app: TestAppDir;
let testRuntime: TestingRuntime;

beforeAll(async () => {
  app = makeAppDir('crashfromcomm', {});
  testRuntime = await createTestingRuntime([Armer], app.configPath, { clock: 'virtual' });
});

afterAll(async () => {
  await testRuntime?.destroy();
  app?.remove();
});

describe('crashAfter awaited from a communicator while the test awaits runUntilIdle', () => {
  it('arms at once: the crash comes in that runUntilIdle, right after the operation named', { timeout: 20_000 }, async () => {
    await testRuntime.invoke(Armer, 'order-1').order();
    const idle = testRuntime.runUntilIdle();
    await expect(idle).rejects.toBeInstanceOf(OperonTestingCrashedError);
    await expect(idle).rejects.toThrow(/crashed after Armer\.ship/);
    expect(ran).toEqual(['arm', 'ship 1']);
    expect(await testRuntime.recover()).toBe(1);
    await testRuntime.runUntilIdle();
    expect(await testRuntime.retrieveWorkflow('order-1').getResult()).toBe(2);
    expect(ran).toEqual(['arm', 'ship 1', 'ship 2']);
  });
});
