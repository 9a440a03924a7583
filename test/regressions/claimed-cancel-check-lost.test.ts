/**
 * Regression: a cancel heard between an executor's claim of a workflow and its run reaches no
 * execution; the execution, once registered, asks the workflow's status before its first
 * operation. A failure of that question (its answer lost with the connection) counted as "not
 * cancelled": the run started, and its first operation (a communicator) called out after the
 * cancel. The question is now asked again once the database answers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Communicator, Workflow, type CommunicatorContext, type WorkflowContext } from '@operon/sdk';
import { cancelWorkflows, type OperonRuntime } from '@operon/runtime';
import { leftByStoppedExecutor, whileAdoptionWaitsAfterClaim } from '../helpers/adoption-held-after-claim.js';
import { runtimeBehindProxy, type CuttableProxy, type RuntimeBehindProxy } from '../helpers/cuttable-proxy.js';
import { until } from '../helpers/poll.js';
import { query } from '../helpers/test-databases.js';

let calls = 0;

class Caller {
  @Communicator()
  static async callOut(_ctx: CommunicatorContext): Promise<string> {
    calls++;
    return 'called';
  }

  @Workflow()
  static async go(ctx: WorkflowContext): Promise<string> {
    return ctx.invoke(Caller).callOut();
  }
}

let behind: RuntimeBehindProxy;
let proxy: CuttableProxy;
let runtime: OperonRuntime;
let sysDb: string;

beforeAll(async () => {
  // A lost connection is logged as a warning, on purpose here: the runtime logs errors only.
  behind = await runtimeBehindProxy([Caller], 'claimed_check_lost');
  ({ runtime, proxy } = behind);
  sysDb = runtime.config.database.system_database;
});

afterAll(async () => {
  await behind?.close();
});

const statusOf = async (uuid: string) => (await query(sysDb, 'SELECT status, owner FROM operon.workflow_status WHERE workflow_uuid = $1', [uuid]))[0];

describe('a cancel heard between a claim and its run', () => {
  it('whose status check lost its answer: the check is asked again, and the run starts nothing', async () => {
    const uuid = 'claimed-check-lost';
    const gone = 'handover-gone-check-lost';
    await leftByStoppedExecutor(sysDb, gone, uuid, 'Caller.go');
    let cut: ReturnType<CuttableProxy['loseNextCommitAnswer']>;
    await whileAdoptionWaitsAfterClaim(runtime.config.database.user_database, async () => {
      void runtime.executor.adoptNow([gone]).catch(() => undefined);
      await until(async () => (await statusOf(uuid)).owner === runtime.executor.lease.instanceId, 'claimed');
      await cancelWorkflows(runtime.systemDb.systemPool, { workflowUUID: uuid }, { actor: 'test' }, { appPool: runtime.systemDb.appPool });
      // The notification reaches the runtime while its claim waits.
      await new Promise((resolve) => setTimeout(resolve, 300));
      // Only the execution's status question reads cancelled workflows this way.
      cut = proxy.loseNextCommitAnswer({ marker: "ANY($1::text[]) AND status = 'CANCELLED'" });
    });
    const lost = await cut!;
    await until(async () => (await statusOf(uuid)).owner === null, 'let go of');
    expect({ cut: lost?.committed, calls, status: (await statusOf(uuid)).status }).toEqual({ cut: 'autocommit', calls: 0, status: 'CANCELLED' });
  });
});
