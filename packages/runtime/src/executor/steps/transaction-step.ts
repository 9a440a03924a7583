/**
 * A transaction as a step: BEGIN, the app's function, an INSERT of its output into
 * operon.transaction_outputs and COMMIT (the INSERT and COMMIT in one round trip). The output
 * commits with the writes, so a crash or a lost answer at any point leaves both or neither, and
 * the step, reading the records again, tells which. Serialization failures and deadlocks retry.
 */
import type pg from 'pg';
import { ISOLATION_LEVELS, OperonDecoratorError, type OperonLogger, type TransactionContext } from '@operon/sdk';
import { bindPg, lendConnection, type BindTransactionClient, type LoanOrigin } from '../../database/transaction-clients.js';
import { Backoff } from '../../backoff.js';
import { guardDatabase, isConnectionFailure, markInfrastructure } from '../../database/infrastructure-failure.js';
import { FENCED_SQLSTATE } from '../../system-db/ownership.js';
import { SQLSTATE, isRetriableTransactionError, sqlState } from '../../database/sqlstate.js';
import type { OperationRecord } from '../../system-db/system-database.js';
import { loggableInputs } from '../../telemetry/log-masking.js';
import type { RuntimeSpan } from '../../telemetry/tracing.js';
import type { RegisteredFunction } from '../function-registry.js';
import { operationLogger, readConfigPath } from '../operation-context.js';
import { serialize } from '../serialization.js';
import type { StepSite, WorkflowExecution } from '../workflow-execution.js';

/** The primary key of operon.transaction_outputs: a violation of it is another run's record. */
const OUTPUT_KEY = 'transaction_outputs_pkey';

/** Retries after a serialization failure or deadlock: from 1 ms, doubling to 2 s, jittered. */
const CONFLICT_RETRY = { initialMs: 1, maxMs: 2_000, jitter: 1 } as const;

/**
 * The app's client for one attempt. It notices the connection going away (pg emits `end` or
 * `error` on the client before the app's code sees the failed query), so a query the database
 * dropped counts as the database's failure whatever the app's code does with the error.
 */
class AttemptSession {
  lost = false;
  private readonly onLoss = () => (this.lost = true);

  /** The app's `ctx.client`: `pg`'s query alone, or the configured library bound to this connection. */
  readonly scoped: unknown;
  /** Ends the app's use of the connection: from then on `scoped` refuses every query. */
  readonly endLoan: () => void;

  constructor(
    readonly client: pg.PoolClient,
    bind: BindTransactionClient,
    origin: LoanOrigin,
  ) {
    client.on('end', this.onLoss);
    client.on('error', this.onLoss);
    const loan = lendConnection(client, origin);
    this.endLoan = loan.end;
    this.scoped = bind(loan.lent);
  }

  /** Rolls back (if the session is alive) and gives the client back, discarding it if broken. */
  async close(): Promise<void> {
    this.endLoan();
    let broken: Error | undefined = this.lost ? new Error('connection lost') : undefined;
    if (!broken) await this.client.query('ROLLBACK').catch((error: Error) => (broken = error));
    this.release(broken);
  }

  release(broken?: Error): void {
    this.endLoan();
    this.client.removeListener('end', this.onLoss);
    this.client.removeListener('error', this.onLoss);
    this.client.release(broken);
  }
}

/**
 * How one attempt ended: committed with its output (`marked`: its commit found a cancel's mark),
 * failed with the app's error, must run again, or was cut by a crash.
 */
type Attempt = { readonly output: string | null; readonly marked?: boolean } | { readonly error: unknown } | 'conflict' | 'recorded-elsewhere' | 'crashed';

export async function performTransaction(
  execution: WorkflowExecution,
  site: StepSite,
  span: RuntimeSpan,
  fn: RegisteredFunction,
  args: unknown[],
): Promise<OperationRecord> {
  const { systemDb, appPool, application } = execution.services;
  const bindClient = execution.services.bindClient ?? bindPg;
  const options = fn.method.transactionOptions ?? {};
  const readOnly = options.readOnly === true;
  const level = options.isolationLevel ?? 'SERIALIZABLE';
  // The decorator checks the level too, but a registration may come from elsewhere (a bundle's own SDK copy): never put other text into BEGIN.
  if (!(ISOLATION_LEVELS as readonly unknown[]).includes(level)) throw new OperonDecoratorError(`${fn.name}: @Transaction isolationLevel must be one of ${ISOLATION_LEVELS.join(', ')}, got ${JSON.stringify(String(level).slice(0, 60))}`);
  const begin = `BEGIN ISOLATION LEVEL ${level}${readOnly ? ' READ ONLY' : ''}`;
  const logger = operationLogger(execution.services.logger, site, fn.name, 'transaction');
  if (execution.services.logger.isLevelEnabled('debug')) logger().debug({ inputs: loggableInputs(fn, args) }, `${fn.name} started`);
  const call = (client: unknown) => fn.method.fn.call(fn.cls, transactionContext(site, client, span, logger, application), ...args);
  // A read-only transaction wrote nothing to keep atomic with its record: it commits, then records.
  const commit = readOnly
    ? (client: pg.PoolClient) => client.query('COMMIT').then(() => false)
    : (client: pg.PoolClient, output: string | null) =>
        systemDb.insertTransactionOutputAndCommit(client, { instance: site.owner, epoch: execution.run.epoch }, site.workflowUUID, site.functionID, fn.name, output, site.startedAt);
  const crashed = execution.services.crashed ?? (() => false);
  const conflicts = new Backoff(CONFLICT_RETRY);
  // A query the app's code sends after the transaction ended is refused; the refusal is logged, so
  // one left floating (awaited by nobody) is seen without ending the process.
  const origin: LoanOrigin = {
    transaction: fn.name,
    workflowUUID: site.workflowUUID,
    onRefused: (error) => logger().warn({ code: error.code }, `${fn.name} of workflow ${site.workflowUUID} sent a query after the transaction ended: refused (await every query before a transaction returns)`),
  };
  for (;;) {
    const session = new AttemptSession(await guardDatabase(appPool.connect()), bindClient, origin);
    const attempt = await runAttempt(session, begin, call, commit, `the output of ${fn.name}`, crashed);
    // The runtime died while the app's code ran: nothing was committed and nothing more runs.
    if (attempt === 'crashed') return execution.abandon('stopped');
    if (attempt === 'conflict') {
      logger().debug(`${fn.name}: retrying after a serialization failure or deadlock`);
      await conflicts.wait();
      continue;
    }
    if (attempt === 'recorded-elsewhere') {
      // Another run of this workflow committed this operation first: its record stands.
      const existing = (await systemDb.loadRecords([site.workflowUUID])).get(site.workflowUUID)?.get(site.functionID);
      if (existing) return existing;
      continue;
    }
    if ('error' in attempt || readOnly) return execution.persist(site, attempt);
    // A cancel marked the workflow in the app database: the system database's status is the
    // truth (a mark can outlive a cancel that did not commit); the run then starts nothing more.
    // A check that failed is asked again once the database answers: a failure says nothing.
    if (attempt.marked && (await execution.durably(() => systemDb.confirmCancelled(site.workflowUUID)))) site.onCancelled?.();
    return { functionName: fn.name, output: attempt.output, error: null };
  }
}

/**
 * One attempt on one connection. Throws (marked as infrastructure) when the database failed: a
 * statement of Operon's own, or a query of the app's whose connection went away.
 */
async function runAttempt(
  session: AttemptSession,
  begin: string,
  call: (client: unknown) => Promise<unknown>,
  commit: (client: pg.PoolClient, output: string | null) => Promise<boolean>,
  what: string,
  crashed: () => boolean,
): Promise<Attempt> {
  try {
    await guardDatabase(session.client.query(begin));
  } catch (error) {
    await session.close();
    throw error;
  }
  const dropIfCrashed = (): boolean => {
    if (!crashed()) return false;
    // A killed process sends nothing more: the connection is dropped without a statement, so the
    // server rolls the transaction back, and the recovery runs the transaction again.
    session.release(new Error('the runtime crashed before this transaction committed'));
    return true;
  };
  if (dropIfCrashed()) return 'crashed';
  let value: unknown;
  try {
    value = await call(session.scoped);
    // A query the app issues from here on would run after (or during) the COMMIT: refused. One
    // it issued before returning is already queued on the connection, ahead of the COMMIT.
    session.endLoan();
  } catch (error) {
    await session.close();
    if (session.lost) throw markInfrastructure(error);
    return isRetriableTransactionError(error) ? 'conflict' : { error };
  }
  let output: string | null;
  try {
    // The app may have caught the failure of a query whose connection is gone: nothing can commit.
    if (session.lost) throw markInfrastructure(new Error('the transaction\'s connection was lost'));
    output = serialize(value, what, 'output');
  } catch (error) {
    await session.close();
    if (session.lost) throw error;
    // An output that cannot be stored is the operation's error; its writes roll back.
    return { error };
  }
  // Checked right before the COMMIT: the app's code may have returned after the crash moment.
  if (dropIfCrashed()) return 'crashed';
  let marked: boolean;
  try {
    marked = await commit(session.client, output);
  } catch (error) {
    await session.close();
    if (isRetriableTransactionError(error)) return 'conflict';
    // Only a violation of Operon's own record key means another run recorded this operation first.
    if (sqlState(error) === SQLSTATE.UNIQUE_VIOLATION && (error as { constraint?: unknown }).constraint === OUTPUT_KEY) return 'recorded-elsewhere';
    // The commit statement carries the app's deferred checks too: a deferred constraint it broke,
    // or an error of its own query it swallowed (25P02), is the app's error, recorded as such.
    if (!session.lost && !isConnectionFailure(error) && sqlState(error) !== FENCED_SQLSTATE) return { error };
    throw markInfrastructure(error);
  }
  session.release();
  return { output, marked };
}

function transactionContext(
  site: StepSite,
  client: unknown,
  span: RuntimeSpan,
  logger: () => OperonLogger,
  application: Readonly<Record<string, unknown>>,
): TransactionContext<unknown> {
  return {
    client,
    workflowUUID: site.workflowUUID,
    functionID: site.functionID,
    get logger(): OperonLogger {
      return logger();
    },
    span,
    getConfig: (key, defaultValue) => readConfigPath(application, key, defaultValue),
  };
}
