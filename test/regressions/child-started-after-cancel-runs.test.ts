/**
 * Regression: a child whose start (or enqueue) reached the database after its parent's cancel had
 * committed was recorded PENDING (ENQUEUED) and ran, under a cancelled parent. The parent had not
 * heard of the cancel yet: the start was its operation in flight.
 *
 * Here the parent runs in a runtime behind a proxy that holds everything from the child's start
 * statement on (the listener's notification too), while the cancel commits on a connection of
 * its own; then the proxy lets the start through.
 *
 * Expected: the child is recorded CANCELLED, owned by nobody, and never runs; the parent stops;
 * a resume of the parent resumes the child with it, and both finish.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { Communicator, OperonWorkflowCancelledError, Workflow, WorkflowQueue, type CommunicatorContext, type WorkflowContext } from '@operon/sdk';
import { cancelWorkflows, resumeWorkflows, type OperonRuntime } from '@operon/runtime';
import { runtimeBehindProxy, type CuttableProxy, type RuntimeBehindProxy } from '../helpers/cuttable-proxy.js';
import { poolsOn, query } from '../helpers/test-databases.js';

const lateQueue = new WorkflowQueue('late-child-queue');
/** Runs of each child's communicator, by the child's UUID. */
const childRuns = new Map<string, number>();

class LateChild {
  @Communicator()
  static async work(ctx: CommunicatorContext, arg: string): Promise<string> {
    childRuns.set(ctx.workflowUUID, (childRuns.get(ctx.workflowUUID) ?? 0) + 1);
    return `child of ${arg}`;
  }

  @Workflow()
  static async run(ctx: WorkflowContext, arg: string): Promise<string> {
    return ctx.invoke(LateChild).work(arg);
  }
}

class LateParent {
  @Workflow()
  static async start(ctx: WorkflowContext, queued: boolean): Promise<string> {
    // The child's input is the marker the proxy stalls at: only its start statement carries it.
    const handle = await ctx.startChildWorkflow(LateChild, queued ? { queue: lateQueue } : undefined).run(`${ctx.workflowUUID}/child-arg`);
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
  behind = await runtimeBehindProxy([LateParent, LateChild], 'late_child_start', 5_000);
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

describe('a child whose start reaches the database after its parent was cancelled', () => {
  for (const queued of [false, true]) {
    it(`${queued ? 'enqueued' : 'started'}: is recorded CANCELLED and never runs; a resume of the parent runs both`, async () => {
      const parent = `late-parent-${queued ? 'enqueue' : 'start'}`;
      const stalled = proxy.stallAt(`${parent}/child-arg`);
      const handle = await runtime.client.invoke(LateParent, { workflowUUID: parent }).start(queued);
      await stalled;
      const cancel = await cancelWorkflows(systemPool, { workflowUUID: parent }, { actor: 'test' }, { appPool });
      expect(cancel.workflowUUIDs).toEqual([parent]);
      proxy.unstall();

      await expect(handle.getResult()).rejects.toBeInstanceOf(OperonWorkflowCancelledError);
      const children = await query(sysDb, `SELECT workflow_uuid, status, owner FROM operon.workflow_status WHERE parent_uuid = $1`, [parent]);
      expect(children).toHaveLength(1);
      const [child] = children;
      expect(child).toEqual({ workflow_uuid: child.workflow_uuid, status: 'CANCELLED', owner: null });
      expect(childRuns.get(child.workflow_uuid)).toBeUndefined();

      const resumed = await resumeWorkflows(systemPool, { workflowUUID: parent }, { actor: 'test' }, { appPool });
      expect(resumed.workflowUUIDs.sort()).toEqual([child.workflow_uuid, parent].sort());
      await expect(runtime.client.retrieveWorkflow<string>(parent).getResult()).resolves.toBe(`child of ${parent}/child-arg`);
      expect(childRuns.get(child.workflow_uuid)).toBe(1);
    });
  }
});
