/**
 * Regression: a workflow cut off by the database going away was run again after a fixed wait even
 * when its records could not be read yet; it then ran on the records it had (none, on a first run),
 * so a communicator that had completed before the outage ran a second time. It now waits until
 * the database answers and its records are read, and replays what completed.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Communicator, Workflow, type CommunicatorContext, type WorkflowContext } from '@operon/sdk';
import { runtimeBehindProxy, type RuntimeBehindProxy } from '../helpers/cuttable-proxy.js';

const runs = { first: 0, second: 0 };
let release: () => void = () => undefined;
const released = new Promise<void>((resolve) => (release = resolve));

class Outage {
  @Communicator({ retriesAllowed: false })
  static async first(_ctx: CommunicatorContext): Promise<string> {
    runs.first++;
    return 'first done';
  }
  @Communicator({ retriesAllowed: false })
  static async second(_ctx: CommunicatorContext): Promise<string> {
    runs.second++;
    await released;
    return 'second done';
  }
  @Workflow()
  static async flow(ctx: WorkflowContext): Promise<string> {
    return `${await ctx.invoke(Outage).first()}, ${await ctx.invoke(Outage).second()}`;
  }
}

let setup: RuntimeBehindProxy | undefined;
afterAll(() => setup?.close());

describe('a workflow cut off by an outage', () => {
  it('replays what completed before it, once the database answers', async () => {
    setup = await runtimeBehindProxy([Outage], 'stale', 500);
    const { runtime, proxy } = setup;
    const handle = await runtime.client.invoke(Outage, { workflowUUID: 'stale-1' }).flow();
    while (runs.second === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    // `first` is recorded; the database goes away while `second` runs, so its record fails.
    proxy.cutAll();
    release();
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    proxy.restore();
    expect(await handle.getResult()).toBe('first done, second done');
    expect(runs.first).toBe(1);
  });
});
