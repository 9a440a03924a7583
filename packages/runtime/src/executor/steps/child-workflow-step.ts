/**
 * Child workflows and reads of other workflows from inside a workflow. A child's UUID is derived
 * from the parent's and the operation id, in the namespace no client-chosen UUID can enter, so a
 * re-run finds the same child and nobody can pre-empt it. A handle's `getStatus()` and
 * `getResult()` are steps too: a re-run sees what the first run saw, even if the other workflow
 * changed since.
 */
import { OperonWorkflowCancelledError, type EnqueueOptions, type WorkflowHandle } from '@operon/sdk';
import { checkIdentifier, derivedUUID } from '../../client/identifiers.js';
import { isInfrastructureFailure } from '../../database/infrastructure-failure.js';
import { toStatus } from '../../system-db/workflow-status.js';
import type { RegisteredFunction } from '../function-registry.js';
import { serialize } from '../serialization.js';
import type { Outcome, WorkflowExecution } from '../workflow-execution.js';

/**
 * The function names a handle's reads are recorded under. They name the workflow read, so a
 * re-run whose reads come in another order (reads started after awaits inside a Promise.all)
 * fails as non-deterministic instead of being handed another workflow's result.
 */
export const WORKFLOW_READS = Object.freeze({
  getStatus: (workflowUUID: string) => `operon.getStatus(${workflowUUID})`,
  getResult: (workflowUUID: string) => `operon.getResult(${workflowUUID})`,
});

/**
 * Starts a child. `thenResult` (invokeChildWorkflow): the id of the `getResult()` that follows is
 * taken now, with the start's, so that concurrent calls cannot take it in another order on a re-run.
 */
export async function startChildStep(
  execution: WorkflowExecution,
  fn: RegisteredFunction,
  args: unknown[],
  thenResult = false,
  queue?: EnqueueOptions,
): Promise<WorkflowHandle<unknown>> {
  const functionID = execution.takeIds(thenResult ? 2 : 1);
  const childUUID = await execution.step<string>(functionID, fn.name, async (site) => {
    const uuid = derivedUUID(execution.workflowUUID, 'c', functionID);
    try {
      await execution.services.workflows.startChild(fn, args, {
        workflowUUID: uuid,
        parentUUID: execution.workflowUUID,
        identity: execution.identity,
        parentSpan: execution.span,
        queue,
      });
    } catch (error) {
      if (isInfrastructureFailure(error)) throw error;
      // A refusal (a deduplicationID its queue holds now, and may not hold at a re-run) is this
      // operation's outcome: recorded, so a re-run is refused again instead of taking another branch.
      return execution.persist(site, { error });
    }
    return execution.persist(site, { output: JSON.stringify(uuid) });
  });
  return workflowHandle(execution, childUUID, thenResult ? functionID + 1 : undefined);
}

/** A handle inside a workflow: each read is a step of the reading workflow. */
export function workflowHandle<R>(execution: WorkflowExecution, workflowUUID: string, reservedResultID?: number): WorkflowHandle<R> {
  let reserved = reservedResultID;
  const uuid = checkIdentifier('workflow UUID', workflowUUID);
  const { systemDb, workflows } = execution.services;
  return {
    getWorkflowUUID: () => uuid,
    getStatus: () => {
      const functionID = execution.takeIds(1);
      return execution.step(functionID, WORKFLOW_READS.getStatus(uuid), async (site) => {
        const row = await systemDb.getWorkflow(uuid);
        return execution.persist(site, { output: JSON.stringify(row ? toStatus(row) : null) });
      });
    },
    getResult: () => {
      const functionID = reserved ?? execution.takeIds(1);
      reserved = undefined;
      return execution.step<R>(functionID, WORKFLOW_READS.getResult(uuid), async (site) => {
        let outcome: Outcome;
        try {
          outcome = { output: serialize(await workflows.resultOf(uuid), `the result of workflow ${uuid}`, 'output') };
        } catch (error) {
          if (isInfrastructureFailure(error)) throw error;
          // A cancel of this workflow cancels its children: their cancellation is not this
          // workflow's to record (a resume of both must find the wait still open).
          if (error instanceof OperonWorkflowCancelledError && (execution.cancelled || (await systemDb.getWorkflow(execution.workflowUUID))?.status === 'CANCELLED')) {
            execution.cancel();
            return execution.abandon('cancelled');
          }
          outcome = { error };
        }
        return execution.persist(site, outcome);
      });
    },
  };
}
