/**
 * A communicator as a step: the app's call to the outside world, retried with exponential backoff
 * on its own errors, then recorded (one statement). Its outcome is known once it returns, so a
 * failure to record it is retried as a write, never by calling the outside world again. An output
 * that cannot be stored is the operation's error at once, not a reason to call again.
 */
import { OperonShutdownError, type CommunicatorContext, type CommunicatorOptions, type OperonLogger } from '@operon/sdk';
import { Backoff } from '../../backoff.js';
import { markInfrastructure } from '../../database/infrastructure-failure.js';
import type { OperationRecord } from '../../system-db/system-database.js';
import { loggableInputs } from '../../telemetry/log-masking.js';
import type { RuntimeSpan } from '../../telemetry/tracing.js';
import type { RegisteredFunction } from '../function-registry.js';
import { operationLogger, readConfigPath } from '../operation-context.js';
import { serialize } from '../serialization.js';
import type { Outcome, StepSite, WorkflowExecution } from '../workflow-execution.js';

export const COMMUNICATOR_DEFAULTS: Required<CommunicatorOptions> = {
  retriesAllowed: true,
  intervalSeconds: 1,
  maxAttempts: 3,
  backoffRate: 2,
};

export async function performCommunicator(
  execution: WorkflowExecution,
  site: StepSite,
  span: RuntimeSpan,
  fn: RegisteredFunction,
  args: unknown[],
): Promise<OperationRecord> {
  const options = { ...COMMUNICATOR_DEFAULTS, ...fn.method.communicatorOptions };
  const attempts = options.retriesAllowed ? Math.max(1, options.maxAttempts) : 1;
  const logger = operationLogger(execution.services.logger, site, fn.name, 'communicator');
  const application = execution.services.application;
  const ctx: CommunicatorContext = {
    workflowUUID: site.workflowUUID,
    functionID: site.functionID,
    retriesAllowed: options.retriesAllowed,
    maxAttempts: attempts,
    get logger(): OperonLogger {
      return logger();
    },
    span,
    getConfig: (key, defaultValue) => readConfigPath(application, key, defaultValue),
  };
  if (execution.services.logger.isLevelEnabled('debug')) logger().debug({ inputs: loggableInputs(fn, args) }, `${fn.name} started`);
  const backoff = new Backoff({ initialMs: options.intervalSeconds * 1000, maxMs: Number.MAX_SAFE_INTEGER, factor: options.backoffRate });
  let outcome: Outcome;
  for (let attempt = 1; ; attempt++) {
    // Before each attempt, with nothing awaited between the check and the call: a run given up
    // during an earlier attempt or its backoff (the runtime stopped, crashed or was reset), or
    // whose process was paused or fenced meanwhile, calls out no more for a workflow another run
    // may own now. The stop's error settles this call (a stop waits for calls out) and the step
    // abandons the run; an unrecorded failed attempt is made again by the workflow's next run.
    for (;;) {
      if (execution.services.state() === 'stopped') throw markInfrastructure(new OperonShutdownError(`the runtime stopped: ${fn.name} is not tried again here`));
      if (execution.holdsLease()) break;
      await execution.confirmLease();
    }
    let value: unknown;
    try {
      value = await fn.method.fn.call(fn.cls, ctx, ...args);
    } catch (error) {
      if (attempt < attempts) {
        const waitMs = backoff.next();
        // The error, never the arguments: they may be masked (@LogMask, @SkipLogging).
        logger().warn({ attempt, maxAttempts: attempts, err: error }, `${fn.name} failed; retrying in ${Math.round(waitMs)} ms`);
        await new Promise((resolve) => setTimeout(resolve, waitMs));
        continue;
      }
      outcome = { error };
      break;
    }
    try {
      outcome = { output: serialize(value, `the output of ${fn.name}`, 'output') };
    } catch (error) {
      outcome = { error };
    }
    break;
  }
  return execution.persist(site, outcome);
}
