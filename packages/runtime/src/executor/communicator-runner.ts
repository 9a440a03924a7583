import type { CommunicatorContext, CommunicatorOptions, OperonLogger, OperonSpan } from '@operon/sdk';
import type { SystemDatabase } from '../system-db/system-database.js';
import type { RegisteredFunction } from './function-registry.js';
import { lazyLogger, readConfigPath } from './operation-context.js';
import { loggableInputs } from '../telemetry/log-masking.js';
import { recordOutcome } from './operation-outcome.js';
import { serialize } from './serialization.js';
import type { Logger } from 'pino';

export const COMMUNICATOR_DEFAULTS: Required<CommunicatorOptions> = {
  retriesAllowed: true,
  intervalSeconds: 1,
  maxAttempts: 3,
  backoffRate: 2,
};

export interface OperationSite {
  readonly workflowUUID: string;
  readonly functionID: number;
  readonly span: OperonSpan;
}

export interface RunnerDeps {
  readonly systemDb: SystemDatabase;
  readonly logger: Logger;
  readonly application: Readonly<Record<string, unknown>>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Runs a communicator with retries and records its output (one statement) or, once the attempts
 * are spent, its last error. Returns what a replay would return: the recorded value.
 */
export async function runCommunicator(
  deps: RunnerDeps,
  site: OperationSite,
  fn: RegisteredFunction,
  args: unknown[],
): Promise<unknown> {
  const options = { ...COMMUNICATOR_DEFAULTS, ...fn.method.communicatorOptions };
  const attempts = options.retriesAllowed ? Math.max(1, options.maxAttempts) : 1;
  const logger = lazyLogger(deps.logger, () => ({
    workflowUUID: site.workflowUUID,
    operationName: fn.name,
    operationType: 'communicator',
    functionID: site.functionID,
  }));
  const ctx: CommunicatorContext = {
    workflowUUID: site.workflowUUID,
    functionID: site.functionID,
    retriesAllowed: options.retriesAllowed,
    maxAttempts: attempts,
    get logger(): OperonLogger {
      return logger();
    },
    span: site.span,
    getConfig: (key, defaultValue) => readConfigPath(deps.application, key, defaultValue),
  };
  if (deps.logger.isLevelEnabled('debug')) logger().debug({ inputs: loggableInputs(fn, args) }, `${fn.name} started`);
  let waitMs = options.intervalSeconds * 1000;
  for (let attempt = 1; ; attempt++) {
    let output: string | null;
    try {
      output = serialize(await fn.method.fn.call(fn.cls, ctx, ...args), `the output of ${fn.name}`);
    } catch (error) {
      if (attempt < attempts) {
        // The error, never the arguments: they may be masked (@LogMask, @SkipLogging).
        logger().warn({ attempt, maxAttempts: attempts, err: error }, `${fn.name} failed; retrying in ${waitMs} ms`);
        await sleep(waitMs);
        waitMs *= options.backoffRate;
        continue;
      }
      return recordOutcome(deps.systemDb, site, fn.name, { error });
    }
    return recordOutcome(deps.systemDb, site, fn.name, { output });
  }
}
