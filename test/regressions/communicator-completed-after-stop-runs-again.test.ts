/**
 * Regression: a communicator that returns after `destroy({ timeoutMs })`'s grace period has its
 * outcome thrown away: destroy ends the pools without waiting for it (a communicator holds no
 * connection), the record's INSERT then fails with "Cannot use a pool after calling end", the
 * execution is abandoned, and at the next start the communicator runs again although it completed:
 * the card is charged twice. A communicator that returns while the stop still waits for in-flight
 * operations (as long again as the timeout given) must have its record written, the pools kept
 * open for it. (One that takes longer still is cut off as by a crash: it may run again.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Communicator, Workflow, type CommunicatorContext, type WorkflowContext } from '@operon/sdk';
import { createTestingRuntime, type TestingRuntime } from '@operon/runtime';
import { within, writeAppDir, type AppDir } from '../helpers/app-dir.js';

let charges = 0;
let chargeStarted: () => void = () => undefined;

class Card {
  @Communicator({ retriesAllowed: false })
  static async charge(_ctx: CommunicatorContext, amount: number): Promise<string> {
    chargeStarted();
    await new Promise((resolve) => setTimeout(resolve, 500));
    charges++;
    return `charged ${amount}`;
  }

  @Workflow()
  static async pay(ctx: WorkflowContext, amount: number): Promise<string> {
    return ctx.invoke(Card).charge(amount);
  }
}

let app: AppDir;
let first: TestingRuntime | undefined;
let second: TestingRuntime | undefined;

beforeAll(() => {
  app = writeAppDir('commstop', { logLevel: 'fatal' });
});

afterAll(async () => {
  await first?.destroy().catch(() => undefined);
  await second?.destroy();
  app?.remove();
});

describe('a communicator still running when the shutdown timeout passes', () => {
  it('is recorded once it returns, and never runs again after the restart', async () => {
    first = await createTestingRuntime([Card], app.configPath);
    const started = new Promise<void>((resolve) => (chargeStarted = resolve));
    await first.invoke(Card, 'pay-1').pay(25);
    await started;
    // 300 ms for running workflows, then up to 300 ms more for the charge still calling out.
    await first.runtime.destroy({ timeoutMs: 300 });
    await first.destroy();
    first = undefined;
    // The charge completes after the stop.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(charges).toBe(1);

    second = await createTestingRuntime([Card], app.configPath, { dropSystemDB: false });
    const result = await within(second.retrieveWorkflow('pay-1').getResult(), 15_000, 'no result after 15 s');
    expect(result).toBe('charged 25');
    expect(charges).toBe(1);
  });
});
