/**
 * Regression: a resume read its tree once, in its statement's snapshot. A child whose start
 * (under the still-CANCELLED parent) committed while the resume's statement waited for the
 * parent's row was recorded CANCELLED, and the resume, blind to it, left it so: the resumed parent
 * then found its child cancelled (its getResult() failed the parent) though nobody cancelled it
 * after the resume.
 *
 * The cancelled run may let go of its parent while the start is in flight (a child start is no
 * operation it waits for), so the resume goes ahead. Here the parent runs behind a proxy that
 * holds everything from the child's start on; the test lets go of the parent as the run does on
 * hearing of the cancel (that notification is held too), and a reader holding the parent's row
 * FOR SHARE keeps the resume's statement waiting while the start goes through.
 *
 * Expected: the resume walks the children of what it resumed again before it commits (as a cancel
 * does), resumes the child, and the parent returns the child's result.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import pg from 'pg';
import { Communicator, Workflow, type CommunicatorContext, type WorkflowContext } from '@operon/sdk';
import { cancelWorkflows, resumeWorkflows, type OperonRuntime } from '@operon/runtime';
import { runtimeBehindProxy, type CuttableProxy, type RuntimeBehindProxy } from '../helpers/cuttable-proxy.js';
import { connectTo, poolsOn, query } from '../helpers/test-databases.js';

class ResumeRaceChild {
  @Communicator()
  static async work(_ctx: CommunicatorContext, arg: string): Promise<string> {
    return `child of ${arg}`;
  }

  @Workflow()
  static async run(ctx: WorkflowContext, arg: string): Promise<string> {
    return ctx.invoke(ResumeRaceChild).work(arg);
  }
}

class ResumeRaceParent {
  @Workflow()
  static async start(ctx: WorkflowContext): Promise<string> {
    // The child's input is the marker the proxy stalls at: only its start statement carries it.
    const handle = await ctx.startChildWorkflow(ResumeRaceChild).run(`${ctx.workflowUUID}/child-arg`);
    return handle.getResult();
  }
}

let behind: RuntimeBehindProxy;
let proxy: CuttableProxy;
let runtime: OperonRuntime;
let sysDb: string;
/** Straight to the server, past the proxy: the operator's cancel and resume. */
let systemPool: pg.Pool;
let appPool: pg.Pool;
let pools: ReturnType<typeof poolsOn>;

beforeAll(async () => {
  behind = await runtimeBehindProxy([ResumeRaceParent, ResumeRaceChild], 'resume_race_child', 5_000);
  ({ proxy, runtime } = behind);
  sysDb = runtime.config.database.system_database;
  pools = poolsOn(runtime.config);
  ({ systemPool, appPool } = pools);
});

afterAll(async () => {
  proxy?.unstall();
  await behind?.close();
  await pools?.end();
});

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`timed out waiting until ${what}`);
}

it('a child started under the cancelled parent while its resume waited for the parent is resumed with it', async () => {
  const parent = 'resume-race-parent';
  const stalled = proxy.stallAt(`${parent}/child-arg`);
  const handle = await runtime.client.invoke(ResumeRaceParent, { workflowUUID: parent }).start();
  await stalled;
  expect((await cancelWorkflows(systemPool, { workflowUUID: parent }, { actor: 'test' }, { appPool })).workflowUUIDs).toEqual([parent]);
  // The cancelled run lets go of its workflow on hearing of the cancel: its child start is no operation it waits for.
  await query(sysDb, `UPDATE operon.workflow_status SET owner = NULL WHERE workflow_uuid = $1 AND status = 'CANCELLED'`, [parent]);

  const reader = await connectTo(sysDb);
  try {
    await reader.query('BEGIN');
    await reader.query('SELECT 1 FROM operon.workflow_status WHERE workflow_uuid = $1 FOR SHARE', [parent]);
    const resume = resumeWorkflows(systemPool, { workflowUUID: parent }, { actor: 'test' }, { appPool });
    const resumed = resume.then((r) => r, (error: unknown) => error);
    await until('the resume waits for the parent', async () => {
      const rows = await query(sysDb, `SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'WITH RECURSIVE tree (workflow_uuid, is_root)%'`);
      return rows.length > 0;
    });
    proxy.unstall();
    await until('the child is recorded', async () => (await query(sysDb, `SELECT 1 FROM operon.workflow_status WHERE parent_uuid = $1`, [parent])).length > 0);
    await reader.query('COMMIT');
    const outcome = await resumed;
    expect(outcome).not.toBeInstanceOf(Error);
    const [child] = await query(sysDb, `SELECT workflow_uuid, status FROM operon.workflow_status WHERE parent_uuid = $1`, [parent]);
    expect(child.status).not.toBe('CANCELLED');
    expect((outcome as { workflowUUIDs: string[] }).workflowUUIDs.sort()).toEqual([child.workflow_uuid, parent].sort());
  } finally {
    await reader.end();
  }
  await handle.getResult().catch(() => undefined);
  await expect(runtime.client.retrieveWorkflow<string>(parent).getResult()).resolves.toBe(`child of ${parent}/child-arg`);
});
