/**
 * Regression: a start of an existing workflow UUID is the same workflow when its inputs are the
 * same, which the executor judged by comparing the stored texts. Values without shared references
 * are now written in format 2, so a workflow an earlier version started (its inputs in format 1)
 * and started again with the same inputs after the upgrade (a client's retry with its idempotency
 * UUID, a parent's child start replayed on recovery) failed with OperonWorkflowConflictError
 * instead of joining the workflow: the same Date and BigInt, two texts.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { OperonWorkflowConflictError, Workflow, type WorkflowContext } from '@operon/sdk';
import type { OperonRuntime } from '@operon/runtime';
import { query, startRuntime, testConfig } from '../helpers/test-databases.js';

let runs = 0;

class Stamps {
  @Workflow()
  static async stamp(_ctx: WorkflowContext, at: Date, n: bigint): Promise<string> {
    runs++;
    return `${at.toISOString()} #${n}`;
  }
}

let runtime: OperonRuntime | undefined;
afterAll(async () => {
  await runtime?.destroy({ timeoutMs: 0 });
});

describe('a workflow started before the upgrade, started again with the same inputs', () => {
  it('is the same workflow, whatever format its inputs were stored in', async () => {
    runtime = await startRuntime([Stamps], testConfig('format1inputs'));
    const at = new Date('2025-03-04T05:06:07.089Z');
    const first = await runtime.client.invoke(Stamps, { workflowUUID: 'stamp-1' }).stamp(at, 7n);
    expect(await first.getResult()).toBe('2025-03-04T05:06:07.089Z #7');
    // The row as the format 1 codec wrote it, before format 2 existed.
    const sys = runtime.config.database.system_database;
    const format1 = '{"$operon":1,"value":[{"$type":"Date","value":"2025-03-04T05:06:07.089Z"},{"$type":"bigint","value":"7"}]}';
    await query(sys, "UPDATE operon.workflow_status SET inputs = $1 WHERE workflow_uuid = 'stamp-1'", [format1]);

    const again = await runtime.client.invoke(Stamps, { workflowUUID: 'stamp-1' }).stamp(new Date(at), 7n);
    expect(await again.getResult()).toBe('2025-03-04T05:06:07.089Z #7');
    expect(runs).toBe(1);
    // Other inputs under the same UUID are still another workflow.
    await expect(runtime.client.invoke(Stamps, { workflowUUID: 'stamp-1' }).stamp(at, 8n)).rejects.toBeInstanceOf(OperonWorkflowConflictError);
  });
});
