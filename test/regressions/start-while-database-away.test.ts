/**
 * Regression (found by the chaos harness: 500s right after pg_terminate_backend, and throughout a
 * Postgres restart): a workflow's start is one INSERT, and a dropped connection or a restarting
 * server failed it, and with it the HTTP request, although the same INSERT would have worked a
 * moment later. The start's statements are idempotent, so they are now tried again for a while;
 * the caller waits out a short outage instead of failing. A handle polling for the result of a
 * workflow that runs elsewhere waits out the outage too.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Workflow, type WorkflowContext } from '@operon/sdk';
import { runtimeBehindProxy, type RuntimeBehindProxy } from '../helpers/cuttable-proxy.js';

class Quick {
  @Workflow()
  static async hello(_ctx: WorkflowContext, name: string): Promise<string> {
    return `hello ${name}`;
  }
}

let setup: RuntimeBehindProxy | undefined;
afterAll(() => setup?.close());

describe('a workflow started while the database is away for a moment', () => {
  it('waits for the database and starts once, instead of failing', async () => {
    setup = await runtimeBehindProxy([Quick], 'away');
    const { runtime, proxy } = setup;
    const fn = runtime.registry.lookup(Quick, 'hello');
    expect(await (await runtime.executor.startWorkflow(fn, ['before'], { workflowUUID: 'away-0' })).getResult()).toBe('hello before');

    proxy.cutAll();
    const started = runtime.executor.startWorkflow(fn, ['during'], { workflowUUID: 'away-1' });
    const polled = runtime.client.retrieveWorkflow('away-0').getResult();
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    proxy.restore();

    expect(await (await started).getResult()).toBe('hello during');
    expect(await polled).toBe('hello before');
    expect((await runtime.client.retrieveWorkflow('away-1').getStatus())?.status).toBe('SUCCESS');
  });
});
