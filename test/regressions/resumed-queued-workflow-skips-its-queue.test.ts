/**
 * A resumed workflow of a queue goes back to ENQUEUED on its queue, not straight to PENDING: before,
 * resuming a cancelled queued workflow while its queue was full started it at once beside the
 * workflow holding the queue's only slot (concurrency exceeded). A resume whose deduplication id
 * another workflow of the queue now holds is a conflict naming both, not a raw unique violation.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Workflow, WorkflowQueue, type WorkflowContext } from '@operon/sdk';
import { cancelWorkflows, OperonManagementConflictError, resumeWorkflows, type OperonRuntime } from '@operon/runtime';
import { query, startRuntime, testConfig } from '../helpers/test-databases.js';

const single = new WorkflowQueue('regr-resume-single', { concurrency: 1 });
const gates = new Map<string, () => void>();

class ResumeJobs {
  @Workflow()
  static async held(_ctx: WorkflowContext, label: string): Promise<string> {
    await new Promise<void>((resolve) => gates.set(label, resolve));
    return `released ${label}`;
  }
}

let runtime: OperonRuntime;
let sys: string;
const statusOf = async (uuid: string) => (await query(sys, 'SELECT status FROM operon.workflow_status WHERE workflow_uuid = $1', [uuid]))[0]?.status;
async function until(check: () => Promise<boolean>): Promise<void> {
  const giveUp = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > giveUp) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

beforeAll(async () => {
  const config = testConfig('regr_resumeq');
  sys = config.database.system_database;
  runtime = await startRuntime([ResumeJobs], config);
});

afterAll(async () => {
  for (const release of gates.values()) release();
  await runtime?.destroy({ timeoutMs: 1_000 });
});

it('puts a resumed queued workflow back on its queue, behind the slot it may not take', async () => {
  const invoke = () => runtime.client.invoke(ResumeJobs, { queue: { queue: single } }) as unknown as { held(label: string): Promise<import('@operon/sdk').WorkflowHandle<string>> };
  const a = await (await invoke()).held('a');
  await until(async () => gates.has('a'));
  const b = await (await invoke()).held('b');
  const pool = runtime.systemDb.systemPool;
  await cancelWorkflows(pool, { workflowUUID: b.getWorkflowUUID() }, { actor: 'test' });
  expect(await statusOf(b.getWorkflowUUID())).toBe('CANCELLED');
  await resumeWorkflows(pool, { workflowUUID: b.getWorkflowUUID() }, { actor: 'test' });
  expect(await statusOf(b.getWorkflowUUID())).toBe('ENQUEUED');
  await new Promise((resolve) => setTimeout(resolve, 300));
  expect(gates.has('b')).toBe(false); // the queue's one slot is a's
  gates.get('a')!();
  expect(await a.getResult()).toBe('released a');
  await until(async () => gates.has('b'));
  gates.get('b')!();
  await until(async () => (await statusOf(b.getWorkflowUUID())) === 'SUCCESS');
});

it('refuses to resume a queued workflow whose deduplication id another now holds, naming it', async () => {
  const invoke = (dedup: string) =>
    runtime.client.invoke(ResumeJobs, { queue: single, deduplicationID: dedup }) as unknown as { held(label: string): Promise<import('@operon/sdk').WorkflowHandle<string>> };
  const c = await invoke('d-1').held('c');
  await until(async () => gates.has('c'));
  const pool = runtime.systemDb.systemPool;
  await cancelWorkflows(pool, { workflowUUID: c.getWorkflowUUID() }, { actor: 'test' });
  gates.get('c')!();
  const d = await invoke('d-1').held('d'); // free again: c ended
  const resumed = resumeWorkflows(pool, { workflowUUID: c.getWorkflowUUID() }, { actor: 'test' });
  await expect(resumed).rejects.toBeInstanceOf(OperonManagementConflictError);
  await expect(resumed).rejects.toThrow(/d-1/);
  await until(async () => gates.has('d'));
  gates.get('d')!();
  expect(await d.getResult()).toBe('released d');
});
