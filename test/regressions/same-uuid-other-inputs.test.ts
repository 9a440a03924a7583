/**
 * Regression: starting a workflow under a UUID that already named a workflow of the same function
 * and caller, but with other inputs, returned the first workflow's result, so the second caller
 * was answered for a call it never made. Only the same call again (same function, caller and
 * inputs) is a retry; other inputs are a conflict (409), in the database path and while the first
 * workflow still runs in this process.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostApi, Workflow, type HandlerContext, type WorkflowContext } from '@operon/sdk';
import { createTestingRuntime, type TestingRuntime } from '@operon/runtime';
import { rejectionOf, within, writeAppDir, type AppDir } from '../helpers/app-dir.js';

const CONFLICT = 'OPERON_ERR_WORKFLOW_CONFLICT';
let runs = 0;
let releaseGate: () => void = () => undefined;
let gate: Promise<void> = Promise.resolve();

class Transfers {
  @Workflow()
  static async transfer(_ctx: WorkflowContext, to: string, amount: number): Promise<string> {
    runs++;
    await gate;
    return `sent ${amount} to ${to}`;
  }

  @PostApi('/transfer')
  static async transferHandler(ctx: HandlerContext, to: string, amount: number): Promise<string> {
    return (await ctx.invoke(Transfers).transfer(to, amount)).getResult();
  }
}

let app: AppDir;
let testRuntime: TestingRuntime | undefined;

beforeAll(async () => {
  app = writeAppDir('sameuuid');
  testRuntime = await createTestingRuntime([Transfers], app.configPath);
});

afterAll(async () => {
  releaseGate();
  await testRuntime?.destroy();
  app?.remove();
});

const codeOf = async (promise: Promise<unknown>) => {
  const error = await rejectionOf(promise);
  return (error as { code?: string }).code ?? error;
};

describe('the same workflow UUID with other inputs', () => {
  it('is a conflict, never the first workflow’s result (recorded workflow)', async () => {
    expect(await (await testRuntime!.invoke(Transfers, 'transfer-1').transfer('alice', 10)).getResult()).toBe('sent 10 to alice');
    runs = 0;

    expect(await codeOf(testRuntime!.invoke(Transfers, 'transfer-1').transfer('mallory', 10_000).then((h) => h.getResult()))).toBe(CONFLICT);
    expect(await codeOf(testRuntime!.invoke(Transfers, 'transfer-1').transfer('alice', 11).then((h) => h.getResult()))).toBe(CONFLICT);
    // The same call again is a retry: the recorded result, nothing run again.
    expect(await (await testRuntime!.invoke(Transfers, 'transfer-1').transfer('alice', 10)).getResult()).toBe('sent 10 to alice');
    expect(runs).toBe(0);
  });

  it('is a conflict while the first workflow still runs in this process', async () => {
    gate = new Promise((resolve) => (releaseGate = resolve));
    let other: unknown;
    let same: unknown;
    const running = await testRuntime!.invoke(Transfers, 'transfer-2').transfer('bob', 20);
    try {
      const refusal = codeOf(testRuntime!.invoke(Transfers, 'transfer-2').transfer('mallory', 20).then((h) => h.getResult()));
      other = await within(refusal, 2_000, 'no refusal within 2 s: it joined the running workflow');
      const retry = await testRuntime!.invoke(Transfers, 'transfer-2').transfer('bob', 20);
      releaseGate();
      same = await retry.getResult();
    } finally {
      releaseGate();
      gate = Promise.resolve();
    }
    expect(other).toBe(CONFLICT);
    expect(same).toBe('sent 20 to bob');
    expect(await running.getResult()).toBe('sent 20 to bob');
  });

  it('is a 409 over HTTP that shows nothing of the first workflow', async () => {
    const post = (payload: object) => testRuntime!.inject({ method: 'POST', url: '/transfer', headers: { 'operon-workflowuuid': 'transfer-3' }, payload });
    const first = await post({ to: 'carol', amount: 30 });
    expect(first.body).toBe('sent 30 to carol');

    const forged = await post({ to: 'mallory', amount: 30 });
    expect(forged.statusCode).toBe(409);
    expect(forged.body).not.toContain('carol');
    expect((await post({ to: 'carol', amount: 30 })).body).toBe('sent 30 to carol');
  });
});
