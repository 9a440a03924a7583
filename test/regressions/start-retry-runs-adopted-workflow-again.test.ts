/**
 * Regression: a start of a workflow UUID a stopped executor left PENDING (a client retrying its
 * request on another process) lost its INSERT's answer; while it waited to try again, this
 * process adopted the workflow and ran it. The start's second try then found the row PENDING and
 * owned by this very instance, took it for its own INSERT committed with its answer lost, and ran
 * the workflow a second time beside the adopted run, in the same process and under the same
 * owner, which no fence tells apart: every operation was performed twice. A start only runs what
 * its own INSERT made, and never what already runs here.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Communicator, Workflow, type CommunicatorContext, type WorkflowContext } from '@operon/sdk';
import { runtimeBehindProxy, type RuntimeBehindProxy } from '../helpers/cuttable-proxy.js';
import { leftByStoppedExecutor } from '../helpers/adoption-held-after-claim.js';
import { within } from '../helpers/app-dir.js';

let calls = 0;
let letGo: () => void = () => undefined;
const gate = new Promise<void>((resolve) => (letGo = resolve));

class Parcels {
  @Communicator()
  static async ship(_ctx: CommunicatorContext): Promise<string> {
    calls++;
    await gate;
    return 'shipped';
  }

  @Workflow()
  static async deliver(ctx: WorkflowContext): Promise<string> {
    return ctx.invoke(Parcels).ship();
  }
}

let behind: RuntimeBehindProxy | undefined;

beforeAll(async () => {
  behind = await runtimeBehindProxy([Parcels], 'startretryadopted');
});

afterAll(async () => {
  letGo();
  await behind?.close();
});

describe('a start whose INSERT answer was lost while this process adopted the same workflow', () => {
  it('joins the adopted run: the workflow runs once', async () => {
    const { runtime, proxy } = behind!;
    await leftByStoppedExecutor(runtime.config.database.system_database, 'gone-instance', 'parcel-1', 'Parcels.deliver');
    // The start's INSERT (the row is there already) runs; its answer is lost with its connection.
    proxy.swallowNextAnswer();
    const started = runtime.client.invoke(Parcels, { workflowUUID: 'parcel-1' }).deliver();
    // While the start waits to try again, this process adopts the stopped executor's workflow.
    await new Promise((resolve) => setTimeout(resolve, 20));
    await runtime.executor.adoptNow(['gone-instance']);
    const handle = await within(started, 10_000, undefined);
    expect(handle).toBeDefined();
    // Long enough for a second run to reach the communicator.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const ran = calls;
    letGo();
    expect(await within(handle!.getResult(), 10_000, 'no result')).toBe('shipped');
    expect(ran).toBe(1);
  });
});
