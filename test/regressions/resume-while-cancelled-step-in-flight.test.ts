/**
 * Regression: a resume issued while the cancelled run's communicator was still calling out
 * handed the workflow to a new run at once; the new run replayed up to the last record and
 * called the same communicator again (two calls, one side effect too many). Now the cancelled run
 * keeps its workflow until its communicator has recorded, then lets go (owner NULL); a resume
 * waits for that (bounded), or answers 409 OPERON_ERR_MANAGEMENT_STILL_FINISHING.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Communicator, OperonWorkflowCancelledError, Workflow, type CommunicatorContext, type WorkflowContext } from '@operon/sdk';
import { OperonManagementStillFinishingError, createHttpServer, resumeWorkflows, type OperonRuntime } from '@operon/runtime';
import { query, startRuntime, testConfig } from '../helpers/test-databases.js';
import { workflowLatches } from '../helpers/workflow-latches.js';

const TOKEN = 'a-token-for-the-resume-in-flight-test';
const calls = new Map<string, number>();
const latches = workflowLatches();
const latch = latches.of;

class Charges {
  /** The side effect that must happen once: it blocks on its workflow's latch. */
  @Communicator({ retriesAllowed: false })
  static async charge(ctx: CommunicatorContext): Promise<string> {
    calls.set(ctx.workflowUUID, (calls.get(ctx.workflowUUID) ?? 0) + 1);
    const entry = latch(ctx.workflowUUID);
    entry.arrive();
    await entry.released;
    return 'charged';
  }

  @Communicator()
  static async receipt(_ctx: CommunicatorContext): Promise<string> {
    return 'receipt';
  }

  @Workflow()
  static async pay(ctx: WorkflowContext): Promise<string[]> {
    return [await ctx.invoke(Charges).charge(), await ctx.invoke(Charges).receipt()];
  }
}

let runtime: OperonRuntime;
let app: Awaited<ReturnType<typeof createHttpServer>>;
let sysDb: string;

async function post(url: string) {
  const response = await app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${TOKEN}` } });
  return { status: response.statusCode, body: response.json() as any };
}

async function row(uuid: string): Promise<{ status: string; owner: string | null }> {
  return (await query(sysDb, 'SELECT status, owner FROM operon.workflow_status WHERE workflow_uuid = $1', [uuid]))[0];
}

beforeAll(async () => {
  const config = testConfig('resume_in_flight', { management: { token: TOKEN } });
  sysDb = config.database.system_database;
  runtime = await startRuntime([Charges], config);
  app = await createHttpServer(runtime);
});

afterAll(async () => {
  latches.releaseAll();
  await app?.close();
  await runtime?.destroy({ timeoutMs: 1000 });
});

describe('a resume while the cancelled run still calls out', () => {
  it('waits for that call to record, then continues after it: the communicator runs once', async () => {
    const handle = await runtime.client.invoke(Charges, { workflowUUID: 'pay-1' }).pay();
    await latch('pay-1').reached;
    expect((await post('/operon/workflows/pay-1/cancel')).body.changed).toBe(1);
    await expect(handle.getResult()).rejects.toBeInstanceOf(OperonWorkflowCancelledError);
    const resumed = post('/operon/workflows/pay-1/resume');
    // The resume holds back while the old run's charge is in flight.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await row('pay-1')).toMatchObject({ status: 'CANCELLED', owner: runtime.executor.lease.instanceId });
    latch('pay-1').release();
    expect(await resumed).toEqual({ status: 200, body: { changed: 1, workflowUUIDs: ['pay-1'] } });
    await expect(runtime.client.retrieveWorkflow('pay-1').getResult()).resolves.toEqual(['charged', 'receipt']);
    expect(calls.get('pay-1')).toBe(1);
  });

  it('answers 409 naming the run still finishing once its wait is over, and changes nothing', async () => {
    const handle = await runtime.client.invoke(Charges, { workflowUUID: 'pay-2' }).pay();
    await latch('pay-2').reached;
    expect((await post('/operon/workflows/pay-2/cancel')).body.changed).toBe(1);
    await expect(handle.getResult()).rejects.toBeInstanceOf(OperonWorkflowCancelledError);
    const audited = async () => (await query(sysDb, `SELECT count(*)::int AS n FROM operon.audit_log WHERE action = 'resume'`))[0].n;
    const before = await audited();
    const refused = resumeWorkflows(runtime.systemDb.systemPool, { workflowUUID: 'pay-2' }, { actor: 'test' }, { waitMs: 0 });
    await expect(refused).rejects.toBeInstanceOf(OperonManagementStillFinishingError);
    await expect(refused).rejects.toThrow(/cannot resume workflow pay-2 yet: its previous run \(executor instance .+\) is still finishing the operation it had in flight/);
    expect(await row('pay-2')).toMatchObject({ status: 'CANCELLED' });
    expect(await audited()).toBe(before);
    // Once the charge has recorded, the run lets go and the resume goes through.
    latch('pay-2').release();
    for (let i = 0; i < 200 && (await row('pay-2')).owner !== null; i++) await new Promise((resolve) => setTimeout(resolve, 25));
    expect(await row('pay-2')).toEqual({ status: 'CANCELLED', owner: null });
    const records = await query(sysDb, `SELECT function_id FROM operon.operation_outputs WHERE workflow_uuid = 'pay-2' ORDER BY 1`);
    expect(records.map((r) => r.function_id)).toEqual([0]);
    expect((await post('/operon/workflows/pay-2/resume')).body.changed).toBe(1);
    await expect(runtime.client.retrieveWorkflow('pay-2').getResult()).resolves.toEqual(['charged', 'receipt']);
    expect(calls.get('pay-2')).toBe(1);
  });
});
