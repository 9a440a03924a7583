/**
 * Regression (found while making the chaos harness's starts survive dropped connections): when the
 * INSERT that starts a workflow commits but its answer is lost with the connection, the workflow
 * is PENDING in the database and runs nowhere. The start, tried again, found the UUID taken and
 * waited for the result of a workflow nobody would run before the next restart's recovery: a
 * request that hung. A start whose own INSERT may have committed now runs such a workflow itself.
 */
import { afterAll, describe, expect, inject, it } from 'vitest';
import { Communicator, Workflow, type CommunicatorContext, type WorkflowContext } from '@operon/sdk';
import type { OperonRuntime } from '@operon/runtime';
import { CuttableProxy } from '../helpers/cuttable-proxy.js';
import { query, startRuntime, testConfig } from '../helpers/test-databases.js';

let calls = 0;

class Orphan {
  @Communicator()
  static async call(_ctx: CommunicatorContext, name: string): Promise<string> {
    calls++;
    return `called for ${name}`;
  }

  @Workflow()
  static async greet(ctx: WorkflowContext, name: string): Promise<string> {
    return ctx.invoke(Orphan).call(name);
  }
}

let runtime: OperonRuntime | undefined;
let proxy: CuttableProxy | undefined;
afterAll(async () => {
  await runtime?.destroy({ timeoutMs: 1_000 });
  await proxy?.close();
});

describe('a start whose INSERT committed but whose answer was lost', () => {
  it('runs the workflow once, instead of waiting for a result nobody produces', async () => {
    const server = inject('postgres');
    proxy = new CuttableProxy({ host: server.host, port: server.port });
    const port = await proxy.listen();
    const config = testConfig('orphan', { database: { hostname: '127.0.0.1', port }, telemetry: { logs: { logLevel: 'error' } } });
    runtime = await startRuntime([Orphan], config);

    proxy.swallowNextAnswer();
    const handle = await runtime.client.invoke(Orphan, { workflowUUID: 'orphan-1' }).greet('ada');
    const result = await Promise.race([handle.getResult(), new Promise((resolve) => setTimeout(() => resolve('still waiting after 5 s'), 5_000))]);

    expect(result).toBe('called for ada');
    expect(calls).toBe(1);
    const [row] = await query<{ status: string }>(config.database.system_database, "SELECT status FROM operon.workflow_status WHERE workflow_uuid = 'orphan-1'");
    expect(row!.status).toBe('SUCCESS');
  });
});
