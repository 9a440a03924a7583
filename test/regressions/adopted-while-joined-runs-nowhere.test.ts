/**
 * Regression (found by the chaos harness with three runtimes): a client that sends the same
 * workflow UUID to a second runtime, while the first one runs it, gets a handle there that waits
 * for the recorded result. When the first runtime then goes away (SIGTERM hands its workflows
 * over; SIGKILL or a pause lets its lease lapse), the second one adopts the workflow: the claim
 * makes it the owner, but its adoption sees the UUID among the workflows "running here" (it is
 * only waited for) and logs "was adopted while it runs here; it goes on here". Nothing runs it:
 * the workflow stays PENDING, owned by a live executor, and the client waits until that executor
 * too goes away.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Communicator, Workflow, type CommunicatorContext, type WorkflowContext } from '@operon/sdk';
import type { OperonRuntime } from '@operon/runtime';
import { query, startRuntime, testConfig, withExecutorId } from '../helpers/test-databases.js';

class Joined {
  @Communicator()
  static async step(_ctx: CommunicatorContext, name: string): Promise<string> {
    return `step for ${name}`;
  }

  @Workflow()
  static async hold(ctx: WorkflowContext, name: string): Promise<string> {
    const step = await ctx.invoke(Joined).step(name);
    const message = await ctx.recv<string>('go', 60);
    return `${step}, then ${message}`;
  }
}

const runtimes: OperonRuntime[] = [];
afterAll(async () => {
  for (const runtime of runtimes) await runtime.destroy({ timeoutMs: 1_000 }).catch(() => undefined);
});

describe('a workflow adopted by a runtime that only waits for its result', () => {
  it('is run by its adopter, not left PENDING with nobody running it', async () => {
    const config = testConfig('joined');
    const first = await startRuntime([Joined], withExecutorId(config, 'joined-first'));
    runtimes.push(first);
    const second = await startRuntime([Joined], withExecutorId(config, 'joined-second'));
    runtimes.push(second);

    // Started on the first runtime; it records its step and waits in recv.
    await first.client.invoke(Joined, { workflowUUID: 'joined-1' }).hold('ada');
    for (let i = 0; i < 100; i++) {
      const rows = await query(config.database.system_database, "SELECT 1 FROM operon.operation_outputs WHERE workflow_uuid = 'joined-1'");
      if (rows.length > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // The client's retry reached the second runtime: it joins the workflow there.
    const joined = await second.client.invoke(Joined, { workflowUUID: 'joined-1' }).hold('ada');
    // The first one stops: the workflow is handed over, and the second one adopts it at its next heartbeat.
    await first.destroy({ timeoutMs: 100 });
    runtimes.shift();
    for (let i = 0; i < 100; i++) {
      const [row] = await query<{ executor_id: string }>(
        config.database.system_database,
        "SELECT e.executor_id FROM operon.workflow_status w JOIN operon.executors e ON e.instance_id = w.owner WHERE w.workflow_uuid = 'joined-1'",
      );
      if (row?.executor_id === 'joined-second') break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await second.client.send('joined-1', 'the message', 'go');

    const result = await Promise.race([joined.getResult(), new Promise((resolve) => setTimeout(() => resolve('still waiting after 10 s'), 10_000))]);
    expect(result).toBe('step for ada, then the message');
  }, 30_000);
});
