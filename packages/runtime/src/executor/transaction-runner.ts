import type pg from 'pg';
import type { OperonLogger, TransactionClient, TransactionContext } from '@operon/sdk';
import { isInfrastructureFailure, markInfrastructure, markIfUnavailable } from '../database/infrastructure-failure.js';
import { SQLSTATE, isRetriableTransactionError, sqlState } from '../database/sqlstate.js';
import type { RegisteredFunction } from './function-registry.js';
import type { OperationSite, RunnerDeps } from './communicator-runner.js';
import { lazyLogger, readConfigPath } from './operation-context.js';
import { loggableInputs } from '../telemetry/log-masking.js';
import { recordOutcome, replayRecord } from './operation-outcome.js';
import { deserialize, serialize } from './serialization.js';

export interface TransactionDeps extends RunnerDeps {
  readonly appPool: pg.Pool;
}

const MAX_RETRY_WAIT_MS = 2_000;

/**
 * Runs a transaction exactly once for this operation: BEGIN, the user's function, an INSERT of
 * its output into operon.transaction_outputs, COMMIT. The output commits with the writes, so a
 * crash at any point leaves either both or neither. Serialization failures and deadlocks retry.
 */
export async function runTransaction(
  deps: TransactionDeps,
  site: OperationSite,
  fn: RegisteredFunction,
  args: unknown[],
): Promise<unknown> {
  const options = fn.method.transactionOptions ?? {};
  const readOnly = options.readOnly === true;
  const begin = `BEGIN ISOLATION LEVEL ${options.isolationLevel ?? 'SERIALIZABLE'}${readOnly ? ' READ ONLY' : ''}`;
  const logger = lazyLogger(deps.logger, () => ({
    workflowUUID: site.workflowUUID,
    operationName: fn.name,
    operationType: 'transaction',
    functionID: site.functionID,
  }));
  if (deps.logger.isLevelEnabled('debug')) logger().debug({ inputs: loggableInputs(fn, args) }, `${fn.name} started`);
  let waitMs = 1;
  for (;;) {
    let client: pg.PoolClient;
    try {
      client = await deps.appPool.connect();
    } catch (error) {
      throw markIfUnavailable(error);
    }
    let recording = false;
    let broken: Error | undefined;
    let output: string | null;
    try {
      await client.query(begin);
      const ctx = transactionContext(deps, site, client, logger);
      output = serialize(await fn.method.fn.call(fn.cls, ctx, ...args), `the output of ${fn.name}`);
      recording = true;
      if (readOnly) await client.query('COMMIT');
      else await deps.systemDb.insertTransactionOutputAndCommit(client, site.workflowUUID, site.functionID, fn.name, output);
      client.release();
    } catch (error) {
      await client.query('ROLLBACK').catch((rollbackError: Error) => {
        broken = rollbackError;
      });
      client.release(broken);
      if (isRetriableTransactionError(error)) {
        logger().debug({ code: sqlState(error) }, `${fn.name}: retrying after ${sqlState(error)}`);
        await new Promise((resolve) => setTimeout(resolve, waitMs * (1 + Math.random())));
        waitMs = Math.min(waitMs * 2, MAX_RETRY_WAIT_MS);
        continue;
      }
      if (recording && sqlState(error) === SQLSTATE.UNIQUE_VIOLATION) {
        // Another run of this workflow committed this operation first: its record wins.
        const records = await deps.systemDb.loadRecords([site.workflowUUID]);
        const record = records.get(site.workflowUUID)?.get(site.functionID);
        if (record) return replayRecord(record);
      }
      if (broken) throw markInfrastructure(error);
      if (isInfrastructureFailure(markIfUnavailable(error))) throw error;
      return recordOutcome(deps.systemDb, site, fn.name, { error });
    }
    // A read-only transaction wrote nothing to keep atomic with its record: record it after commit.
    return readOnly ? recordOutcome(deps.systemDb, site, fn.name, { output }) : deserialize(output);
  }
}

function transactionContext(
  deps: TransactionDeps,
  site: OperationSite,
  client: pg.PoolClient,
  logger: () => OperonLogger,
): TransactionContext {
  const scoped: TransactionClient = {
    query: (text, values) => client.query(text, values as unknown[]) as never,
  };
  return {
    client: scoped,
    workflowUUID: site.workflowUUID,
    functionID: site.functionID,
    get logger(): OperonLogger {
      return logger();
    },
    span: site.span,
    getConfig: (key, defaultValue) => readConfigPath(deps.application, key, defaultValue),
  };
}
