/**
 * Regression: a live executor that owned a cancelled workflow without running it never let go of
 * it, so every resume waited its 5 s and answered 409 OPERON_ERR_MANAGEMENT_STILL_FINISHING until
 * that executor stopped. Two ways to get there:
 * - it claimed the workflow and does not run it (its function is not registered here): the cancel
 *   reached no execution, and nothing released it;
 * - it claimed the workflow for adoption and the cancel was heard before the execution was
 *   registered: the execution then replayed a 120 s sleep, owning the workflow all along.
 *
 * Expected: the executor lets go of the workflow (owner NULL) and a resume goes through at once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Communicator, Workflow, type CommunicatorContext, type WorkflowContext } from '@operon/sdk';
import { cancelWorkflows, resumeWorkflows, type OperonConfig, type OperonRuntime } from '@operon/runtime';
import { leftByStoppedExecutor, whileAdoptionWaitsAfterClaim } from '../helpers/adoption-held-after-claim.js';
import { until } from '../helpers/poll.js';
import { query, startRuntime, testConfig, withExecutorId } from '../helpers/test-databases.js';

const afterSleep = new Map<string, number>();

class Sleeper {
  @Communicator()
  static async woke(ctx: CommunicatorContext): Promise<void> {
    afterSleep.set(ctx.workflowUUID, (afterSleep.get(ctx.workflowUUID) ?? 0) + 1);
  }

  @Workflow()
  static async long(ctx: WorkflowContext): Promise<void> {
    await ctx.sleep(120);
    await ctx.invoke(Sleeper).woke();
  }
}

let config: OperonConfig;
let runtime: OperonRuntime;
let sysDb: string;

beforeAll(async () => {
  config = testConfig('claimed_cancelled');
  sysDb = config.database.system_database;
  runtime = await startRuntime([Sleeper], withExecutorId(config, 'keeper'));
});

afterAll(async () => {
  await runtime?.destroy({ timeoutMs: 1000 });
});

const ownerOf = async (uuid: string): Promise<string | null> => (await query(sysDb, 'SELECT owner FROM operon.workflow_status WHERE workflow_uuid = $1', [uuid]))[0].owner;

/** A resume that may wait 2 s for the owner to let go (the default is 5 s). */
const resume = (uuid: string) => resumeWorkflows(runtime.systemDb.systemPool, { workflowUUID: uuid }, { actor: 'test' }, { waitMs: 2_000 });

describe('a cancelled workflow that a live executor claimed but does not run', () => {
  it('is let go of when its function is not registered here: a resume goes through', async () => {
    const uuid = 'claimed-unregistered';
    const gone = 'handover-gone-instance';
    await leftByStoppedExecutor(sysDb, gone, uuid, 'Elsewhere.flow');
    await runtime.executor.adoptNow([gone]);
    expect(await ownerOf(uuid)).toBe(runtime.executor.lease.instanceId);
    await cancelWorkflows(runtime.systemDb.systemPool, { workflowUUID: uuid }, { actor: 'test' });
    await expect(resume(uuid)).resolves.toMatchObject({ changed: 1, workflowUUIDs: [uuid] });
  });

  it('is let go of when the cancel is heard between its claim and its run: a resume goes through', async () => {
    const uuid = 'claimed-then-cancelled';
    // It sleeps in another executor, which stops: this one adopts it.
    const other = await startRuntime([Sleeper], withExecutorId(config, 'leaver'));
    await other.client.invoke(Sleeper, { workflowUUID: uuid }).long();
    await until(async () => (await query(sysDb, 'SELECT 1 FROM operon.operation_outputs WHERE workflow_uuid = $1', [uuid])).length > 0, 'sleeping');
    await whileAdoptionWaitsAfterClaim(config.database.user_database, async () => {
      await other.destroy({ timeoutMs: 200 });
      void runtime.executor.adoptNow([other.executor.lease.instanceId]);
      await until(async () => (await ownerOf(uuid)) === runtime.executor.lease.instanceId, 'claimed by the keeper');
      await cancelWorkflows(runtime.systemDb.systemPool, { workflowUUID: uuid }, { actor: 'test' });
      // The notification reaches the keeper while the claim waits.
      await new Promise((resolve) => setTimeout(resolve, 300));
    });
    await expect(resume(uuid)).resolves.toMatchObject({ changed: 1, workflowUUIDs: [uuid] });
    expect(afterSleep.get(uuid)).toBeUndefined();
  });
});
