/**
 * Regression: while the runtime stops (within `destroy({ timeoutMs })`'s grace period, workflows
 * still running), a workflow that starts a child gets `OperonShutdownError: the runtime is shutting
 * down and starts no new workflows` thrown into its code: WorkflowExecutor.start throws it unmarked,
 * so the child step (child-workflow-step.ts) passes it on as the app's error. The saga below then
 * compensates for a reservation that stands, and the workflow is recorded ERROR/compensated for
 * ever, instead of pausing and finishing from its records after the restart.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Communicator, Workflow, type CommunicatorContext, type WorkflowContext } from '@operon/sdk';
import { createTestingRuntime, type TestingRuntime } from '@operon/runtime';
import { within, writeAppDir, type AppDir } from '../helpers/app-dir.js';

const caught: string[] = [];
let compensations = 0;
let reserveStarted: () => void = () => undefined;

class Booking {
  /** Still running when the stop begins; done well within its grace period. */
  @Communicator({ retriesAllowed: false })
  static async reserve(_ctx: CommunicatorContext): Promise<string> {
    reserveStarted();
    await new Promise((resolve) => setTimeout(resolve, 400));
    return 'reserved';
  }

  @Communicator({ retriesAllowed: false })
  static async release(_ctx: CommunicatorContext): Promise<void> {
    compensations++;
  }

  @Workflow()
  static async notify(_ctx: WorkflowContext, what: string): Promise<string> {
    return `notified ${what}`;
  }

  @Workflow()
  static async book(ctx: WorkflowContext): Promise<string> {
    const reserved = await ctx.invoke(Booking).reserve();
    try {
      const notified = await ctx.invokeChildWorkflow(Booking).notify(reserved);
      return `${reserved}, ${notified}`;
    } catch (error) {
      caught.push((error as Error).message);
      await ctx.invoke(Booking).release();
      return 'released';
    }
  }
}

let app: AppDir;
let first: TestingRuntime | undefined;
let second: TestingRuntime | undefined;

beforeAll(() => {
  app = writeAppDir('childstop', { logLevel: 'fatal' });
});

afterAll(async () => {
  await first?.destroy().catch(() => undefined);
  await second?.destroy();
  app?.remove();
});

describe('a workflow that starts a child while the runtime stops', () => {
  it('sees no shutdown error; after a restart it finishes with its child, nothing compensated', async () => {
    first = await createTestingRuntime([Booking], app.configPath);
    const started = new Promise<void>((resolve) => (reserveStarted = resolve));
    await first.invoke(Booking, 'booking-1').book();
    await started;
    // A grace period the workflow's communicator fits in easily.
    await first.runtime.destroy({ timeoutMs: 3_000 });
    await first.destroy();
    first = undefined;
    expect({ caught, compensations }).toEqual({ caught: [], compensations: 0 });

    second = await createTestingRuntime([Booking], app.configPath, { dropSystemDB: false });
    const result = await within(second.retrieveWorkflow('booking-1').getResult(), 15_000, 'no result after 15 s');
    expect(result).toBe('reserved, notified reserved');
    expect({ caught, compensations }).toEqual({ caught: [], compensations: 0 });
  });
});
