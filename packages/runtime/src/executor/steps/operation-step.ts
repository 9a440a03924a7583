/**
 * `ctx.invoke(Cls).method(...)` inside a workflow, and the one operation of a transaction or
 * communicator invoked from outside any workflow: one id, one span, one record.
 */
import { OperonNotRegisteredError } from '@operon/sdk';
import { inputsAttribute } from '../../telemetry/log-masking.js';
import { NOOP_RUNTIME_SPAN } from '../../telemetry/tracing.js';
import { authorize } from '../authorization.js';
import { deserializeError } from '../serialization.js';
import type { RegisteredFunction } from '../function-registry.js';
import type { WorkflowExecution } from '../workflow-execution.js';
import { performCommunicator } from './communicator-step.js';
import { performTransaction } from './transaction-step.js';

export function operationStep(execution: WorkflowExecution, fn: RegisteredFunction, args: unknown[]): Promise<unknown> {
  const kind = fn.method.kind;
  if (kind !== 'transaction' && kind !== 'communicator') {
    return Promise.reject(new OperonNotRegisteredError(fn.name, 'only transactions and communicators can be invoked as operations'));
  }
  const functionID = execution.takeIds(1);
  return execution.step(functionID, fn.name, async (site) => {
    // Roles travel with the workflow: an operation it performs is checked against the identity it
    // started with. A recorded one replays whatever roles say now: it already ran.
    authorize(fn, execution.identity);
    const tracing = execution.services.tracing;
    const span = tracing.enabled
      ? tracing.startSpan(
          fn.name,
          {
            'operon.workflow_uuid': site.workflowUUID,
            'operon.function_id': functionID,
            'operon.operation_type': kind,
            'operon.inputs': inputsAttribute(fn, args),
          },
          execution.span,
        )
      : NOOP_RUNTIME_SPAN;
    try {
      // Either kind keeps a cancelled run's workflow while in flight: a resume waits for what it records.
      const record = await (kind === 'transaction'
        ? execution.callOut(() => performTransaction(execution, site, span, fn, args))
        : execution.services.untilRecorded(execution.callOut(() => performCommunicator(execution, site, span, fn, args))));
      span.end(record.error === null ? undefined : deserializeError(record.error));
      return record;
    } catch (error) {
      span.end(error);
      throw error;
    }
  });
}
