/**
 * One execution of one workflow, and the one owner of its durable steps. It holds the workflow's
 * UUID, identity, span, records and next operation id; every operation (transaction,
 * communicator, child, send, recv, event, sleep, status read) is a `step` of it:
 *
 *   take ids (synchronously, at call time) → record at that id? → same function? → replay it
 *                                          → no record → perform (run and record) → return the record
 *
 * so concurrent operations (`Promise.all`) each keep their own id and record, on every run.
 *
 * A failure of Operon's own database work never reaches workflow code. The step that met it
 * waits until the database answers, reads the records again and goes on from there: a record
 * written before the failure (a COMMIT whose answer was lost) is returned, a missing one is
 * performed again. Once the runtime stops, the execution is abandoned instead: the step's promise
 * never settles, so the workflow's code is never resumed with an error it could mistake for its
 * own; the workflow stays PENDING and its next run (recovery) continues from its records.
 */
import type { BindTransactionClient } from '../database/transaction-clients.js';
import type { Context } from '@opentelemetry/api';
import type { Logger } from 'pino';
import type pg from 'pg';
import { OperonShutdownError, type EnqueueOptions, type OperonLogger, type RecordedHttpRequest } from '@operon/sdk';
import { Backoff } from '../backoff.js';
import { isConnectionFailure, isInfrastructureFailure, markInfrastructure } from '../database/infrastructure-failure.js';
import type { OperationRecord, SystemDatabase, WorkflowIdentity, WorkflowKind } from '../system-db/system-database.js';
import { inputsAttribute, loggableInputs } from '../telemetry/log-masking.js';
import { NOOP_RUNTIME_SPAN, type RuntimeSpan, type Tracing } from '../telemetry/tracing.js';
import { sqlState } from '../database/sqlstate.js';
import { FENCED_SQLSTATE } from '../system-db/ownership.js';
import type { DatabaseOutage } from './database-outage.js';
import type { FunctionRegistry, RegisteredFunction } from './function-registry.js';
import { lazyLogger } from './operation-context.js';
import { deserialize, deserializeError, serialize, serializeError } from './serialization.js';
import { LIVE_POLICY, type StepPolicy } from './step-policy.js';
import type { WorkflowClock } from './workflow-clock.js';
import type { WorkflowMessaging } from './workflow-messaging.js';
import type { RuntimeMetrics } from '../telemetry/runtime-metrics.js';

/** Starting children and reading other workflows' results: what a step needs of the executor. */
export interface WorkflowStarter {
  /** Starts (or joins) a child workflow; resolves once its start is durable. */
  startChild(fn: RegisteredFunction, args: unknown[], options: ChildStart): Promise<void>;
  /** Waits for a workflow's result (here if it runs here, else from its record). */
  resultOf(workflowUUID: string): Promise<unknown>;
}

export interface ChildStart {
  readonly workflowUUID: string;
  readonly parentUUID: string;
  readonly identity: WorkflowIdentity;
  readonly parentSpan: RuntimeSpan;
  /** Enqueued on this queue instead of started at once. */
  readonly queue?: EnqueueOptions;
}

/** What every execution of a runtime shares. */
export interface ExecutionServices {
  readonly systemDb: SystemDatabase;
  readonly appPool: pg.Pool;
  readonly registry: FunctionRegistry;
  readonly logger: Logger;
  readonly application: Readonly<Record<string, unknown>>;
  readonly tracing: Tracing;
  readonly executorId: string;
  readonly messaging: WorkflowMessaging;
  readonly outage: DatabaseOutage;
  /** The workflow clock (workflow-clock.ts): deadlines are recorded, read and waited for by it. */
  readonly clock: WorkflowClock;
  readonly metrics?: RuntimeMetrics;
  readonly workflows: WorkflowStarter;
  /** This executor's lease: fresh, or confirmed with the database before anything more runs. */
  readonly lease: { holds(owner: string): boolean; confirm(owner: string): Promise<'held' | 'lost' | 'unknown'> };
  /** Keeps the runtime's pools open, when it stops, until `work` (an operation with a side effect) has recorded. */
  readonly untilRecorded: <T>(work: Promise<T>) => Promise<T>;
  /** What a transaction's `ctx.client` is (`database.client`); `pg`'s client when absent. */
  readonly bindClient?: BindTransactionClient;
  /** Told (and awaited) when a recovered execution is about to perform its first operation: one more recovery attempt. */
  readonly attempting: (workflowUUID: string) => Promise<void>;
  /** Told once when a recovered execution completed an operation or reached a wait: it got past what killed its last run. */
  readonly progressed: (workflowUUID: string) => void;
  /** Told synchronously when an operation's record was written by this run (the testing runtime's crashAfter). */
  readonly afterRecorded?: (site: StepSite) => void;
  /** 'running' until the runtime begins to stop; steps met by a failure after that are abandoned. */
  readonly state: () => 'running' | 'stopping' | 'stopped';
  /** True once the runtime died where it stood (the testing runtime's crashAfter): nothing more commits. */
  readonly crashed?: () => boolean;
}

export interface ExecutionRun {
  readonly workflowUUID: string;
  /** The executor instance that runs it: every write is fenced on it owning the workflow. */
  readonly owner: string;
  /** How many times the workflow had changed hands when this instance took it (0 for its first run). */
  readonly epoch: number;
  readonly fn: RegisteredFunction;
  readonly kind: WorkflowKind;
  readonly identity: WorkflowIdentity;
  /** The request that started it, as recorded (null or absent if none did). */
  readonly request?: RecordedHttpRequest | null;
  readonly parentSpan?: RuntimeSpan | Context;
}

/** Where one operation is recorded. */
export interface StepSite {
  readonly workflowUUID: string;
  readonly functionID: number;
  readonly functionName: string;
  readonly owner: string;
  /** Epoch ms this run reached the operation: recorded with it as its start. */
  readonly startedAt: number;
  /** Told when a record write found the workflow CANCELLED: the run starts no further operation. */
  readonly onCancelled?: () => void;
}

/**
 * Why an execution was given up: the runtime stopped under it, another executor owns the workflow
 * now, it was cancelled, or the testing runtime was reset (its records are gone).
 */
export type AbandonReason = 'stopped' | 'fenced' | 'cancelled' | 'reset';

export type Outcome = { readonly output: string | null } | { readonly error: unknown };

/** After a failure that was not the connection's, steps try again no faster than this. */
const STATEMENT_RETRY = { initialMs: 100, maxMs: 5_000 } as const;

export class WorkflowExecution {
  private nextFunctionID = 0;
  private records: Map<number, OperationRecord> | undefined;
  private readonly statementRetry = new Backoff(STATEMENT_RETRY);
  private readonly log: () => OperonLogger;
  /** A recovered run that has not yet performed an operation of its own. */
  private awaitingProgress: boolean;
  /** Whether this recovered run's attempt was counted. */
  private attemptCounted = false;
  /** The workflow was cancelled: the operation in flight may record, no further one starts. */
  private cancelledHere = false;
  /** Communicators of this run calling out now: a cancelled run keeps its workflow until none is. */
  private callingOut = 0;
  /** This cancelled run let go of its workflow (or is letting go): a resume may run it anew. */
  private released = false;
  readonly span: RuntimeSpan;

  constructor(
    readonly services: ExecutionServices,
    readonly run: ExecutionRun,
    /** Records of an earlier run; undefined on a first run, which cannot have any. */
    records: ReadonlyMap<number, OperationRecord> | undefined,
    readonly policy: StepPolicy = LIVE_POLICY,
    /** Told when the execution is abandoned: the runtime stopped under it, or another executor owns it now. */
    private readonly onAbandon: (reason: AbandonReason) => void = () => undefined,
  ) {
    this.records = records ? new Map(records) : undefined;
    this.awaitingProgress = records !== undefined && policy.runs;
    const tracing = services.tracing;
    this.span =
      tracing.enabled && policy.runs
        ? tracing.startSpan(
            run.fn.name,
            { 'operon.workflow_uuid': run.workflowUUID, 'operon.operation_type': 'workflow', 'operon.executor_id': services.executorId },
            run.parentSpan,
          )
        : NOOP_RUNTIME_SPAN;
    this.log = lazyLogger(services.logger, () => ({ workflowUUID: run.workflowUUID, operationName: run.fn.name, operationType: 'workflow' }));
  }

  get workflowUUID(): string {
    return this.run.workflowUUID;
  }
  get identity(): WorkflowIdentity {
    return this.run.identity;
  }
  get request(): RecordedHttpRequest | null {
    return this.run.request ?? null;
  }
  get logger(): OperonLogger {
    return this.log();
  }
  /** How many operation ids the code has taken so far. */
  get takenIds(): number {
    return this.nextFunctionID;
  }

  /** Takes `count` consecutive operation ids and returns the first. Synchronous: call order is id order. */
  takeIds(count = 1): number {
    const first = this.nextFunctionID;
    this.nextFunctionID += count;
    return first;
  }

  /** The record at `functionID` if there is one, checked to be of `functionName`. */
  recorded(functionID: number, functionName: string): OperationRecord | undefined {
    const record = this.records?.get(functionID);
    if (record) this.check(functionID, functionName, record);
    return record;
  }

  /**
   * The durable step: returns what the record at `functionID` holds, performing the operation
   * first if there is none. `perform` runs and records the operation and gives the record that
   * stands (its own, or one another run wrote first). `precededBy`: ids this operation took
   * before its own (a recv's deadline), checked the same way when they have records.
   */
  async step<T>(
    functionID: number,
    functionName: string,
    perform: (site: StepSite) => Promise<OperationRecord>,
    precededBy?: { readonly functionID: number; readonly functionName: string },
    /** A wait (recv, getEvent): performing it is not the risk a recovery attempt counts. */
    wait = false,
  ): Promise<T> {
    if (this.services.state() === 'stopped') return this.abandon('stopped');
    // Learnt from the cancel's notification or from the status the last record write read.
    if (this.cancelledHere && this.policy.runs) return this.abandon('cancelled');
    this.policy.beforeStep();
    const site = { workflowUUID: this.workflowUUID, functionID, functionName, owner: this.run.owner, startedAt: Date.now(), onCancelled: () => this.cancel() };
    for (;;) {
      if (precededBy) this.recorded(precededBy.functionID, precededBy.functionName);
      const existing = this.recorded(functionID, functionName);
      if (existing) return this.resultOf<T>(existing);
      if (!this.policy.runs) this.policy.missing(this.workflowUUID, functionID, functionName);
      // A process paused past its lease may have lost this workflow: it runs nothing more until it knows.
      while (!this.holdsLease()) await this.confirmLease();
      let record: OperationRecord;
      try {
        if (this.awaitingProgress && !wait && !this.attemptCounted) {
          await this.services.attempting(this.workflowUUID);
          this.attemptCounted = true;
          // The lease may have run out while the count was written (a paused process, a late answer).
          while (!this.holdsLease()) await this.confirmLease();
        }
        const began = this.services.metrics ? performance.now() : 0;
        record = await perform(site);
        this.services.metrics?.operationPerformed(functionName, (performance.now() - began) / 1000);
      } catch (error) {
        if (!isInfrastructureFailure(error)) throw error;
        await this.afterFailure(error);
        await this.reloadRecords();
        continue;
      }
      this.check(functionID, functionName, record);
      this.services.afterRecorded?.(site);
      // The runtime died right after this record (a test's crashAfter): nothing more runs.
      if (this.services.state() === 'stopped') return this.abandon('stopped');
      this.madeProgress();
      return this.resultOf<T>(record);
    }
  }

  /**
   * Writes `outcome` as the record at `site` (a plain record: a communicator's output or error, a
   * failed transaction's error, a deadline) and returns the record that stands. The outcome is
   * known, so a failed write is tried again, never the operation: after a failure the records
   * are read first, and one found at `site` (the write committed, its answer was lost) stands.
   */
  async persist(site: StepSite, outcome: Outcome): Promise<OperationRecord> {
    const record: OperationRecord =
      'error' in outcome
        ? { functionName: site.functionName, output: null, error: serializeError(outcome.error) }
        : { functionName: site.functionName, output: outcome.output, error: null };
    for (;;) {
      try {
        const written = await this.services.systemDb.recordOperation(site, record);
        if (written.cancelled) this.cancel();
        return written.record;
      } catch (error) {
        if (!isInfrastructureFailure(error)) throw error;
        await this.afterFailure(error);
        await this.reloadRecords();
        const written = this.records?.get(site.functionID);
        if (written) return written;
      }
    }
  }

  /**
   * Awaits one of Operon's own waits or writes outside any step (a sleep's wait, the workflow's
   * end): a database failure is waited out and `work` tried again; once the runtime stops, the
   * execution is abandoned.
   */
  async durably<T>(work: () => Promise<T>): Promise<T> {
    for (;;) {
      try {
        return await work();
      } catch (error) {
        if (!isInfrastructureFailure(error)) throw error;
        await this.afterFailure(error);
      }
    }
  }

  /**
   * Runs the workflow's code to its end with this execution's context (or, for a transaction or
   * communicator invoked from outside a workflow, that one operation as operation 0) and gives
   * its outcome in stored form: what any later reader of the record gets.
   */
  async runBody(args: unknown[], body: (execution: WorkflowExecution, args: unknown[]) => Promise<unknown>): Promise<Outcome> {
    if (this.services.logger.isLevelEnabled('debug')) {
      this.logger.debug({ inputs: loggableInputs(this.run.fn, args), rerun: this.records !== undefined }, `workflow ${this.run.fn.name} started`);
    }
    if (this.services.tracing.enabled) this.span.setAttribute('operon.inputs', inputsAttribute(this.run.fn, args));
    try {
      const output = await body(this, args);
      return { output: serialize(output, `the output of workflow ${this.run.fn.name}`, 'output') };
    } catch (error) {
      return { error };
    }
  }

  /** Runs the workflow and records its end; resolves or rejects as a reader of the record would. */
  async runToEnd(args: unknown[], body: (execution: WorkflowExecution, args: unknown[]) => Promise<unknown>): Promise<unknown> {
    const outcome = await this.runBody(args, body);
    const owner = this.run.owner;
    const end =
      'error' in outcome
        ? { workflowUUID: this.workflowUUID, owner, status: 'ERROR' as const, output: null, error: serializeError(outcome.error) }
        : { workflowUUID: this.workflowUUID, owner, status: 'SUCCESS' as const, output: outcome.output, error: null };
    // The stored form, never the raw value: anything may be thrown, a null-prototype object too.
    const error = end.error === null ? undefined : deserializeError(end.error);
    this.span.end(error);
    if (this.cancelledHere) return this.abandon('cancelled');
    // Not written: cancelled, or another executor owns the workflow now (or ended it); its record is the result.
    if (!(await this.durably(() => this.services.systemDb.recordWorkflowEnd(end)))) {
      const row = await this.durably(() => this.services.systemDb.getWorkflow(this.workflowUUID));
      if (row?.status !== 'CANCELLED') return this.fenced();
      this.cancel();
      return this.abandon('cancelled');
    }
    this.services.metrics?.workflowEnded(this.run.fn.name, end.status);
    if (error) throw error;
    return deserialize(end.output);
  }

  /**
   * A recovered run got past what killed its last one: it completed an operation of its own, or
   * it reached a wait (a sleep, recv or getEvent), where a healthy workflow may spend any number
   * of restarts. Its recovery attempts start over.
   */
  madeProgress(): void {
    if (!this.awaitingProgress) return;
    this.awaitingProgress = false;
    this.services.progressed(this.workflowUUID);
  }

  /**
   * The workflow was cancelled: its code is never resumed again (the operation in flight, if any,
   * still records its outcome) and its callers get the cancellation.
   */
  cancel(): void {
    if (this.cancelledHere) return;
    this.cancelledHere = true;
    this.logger.info(`workflow ${this.workflowUUID} was cancelled; it starts no further operation`);
    this.onAbandon('cancelled');
    this.releaseIfIdle();
  }

  /**
   * Runs a communicator's call and record, or a transaction. While one is in flight a cancelled
   * run keeps its workflow (its owner stays this instance, so a resume waits): a new run would
   * call out again, and a transaction may still commit, whose record a resume must see.
   */
  async callOut<T>(work: () => Promise<T>): Promise<T> {
    this.callingOut++;
    try {
      return await work();
    } finally {
      this.callingOut--;
      if (this.cancelledHere) this.releaseIfIdle();
    }
  }

  /** A cancelled run with nothing in flight lets go of its workflow, once; a failed release leaves it to the lease. */
  private releaseIfIdle(): void {
    if (this.released || this.callingOut > 0 || !this.policy.runs) return;
    this.released = true;
    this.durably(() => this.services.systemDb.releaseCancelled(this.workflowUUID, this.run.owner)).catch((error: unknown) =>
      this.services.logger.warn({ err: error, workflowUUID: this.workflowUUID }, `workflow ${this.workflowUUID}: could not let go of it after its cancel; a resume waits until this executor stops`),
    );
  }

  get cancelled(): boolean {
    return this.cancelledHere;
  }

  /**
   * Gives up on this execution because the runtime stopped: its caller is told (the workflow's
   * result rejects with a shutdown error) and the returned promise never settles, so the
   * workflow's code never resumes.
   */
  abandon(reason: AbandonReason): Promise<never> {
    this.onAbandon(reason);
    return new Promise<never>(() => undefined);
  }

  /**
   * Whether this run's instance holds its lease now, by the local clock. Checked synchronously
   * right before work the fence cannot undo (a communicator's call out, each attempt), never
   * before an await: other code (a long synchronous step, a pause) may run in between.
   * `while (!execution.holdsLease()) await execution.confirmLease();`
   */
  holdsLease(): boolean {
    return this.services.lease.holds(this.run.owner);
  }

  /**
   * Waits until the database says whether this instance still owns the workflow; gives it up if not.
   * Its answer is already old when the caller resumes: the caller checks holdsLease() again.
   */
  async confirmLease(): Promise<void> {
    for (;;) {
      const verdict = await this.services.lease.confirm(this.run.owner);
      if (verdict === 'held') return;
      if (verdict === 'lost') return this.fenced();
      if (this.services.state() !== 'running') return this.abandon('stopped');
      await this.services.outage.answers();
    }
  }

  /** Another executor adopted this workflow: this one writes nothing more for it and stops running it. */
  private fenced(): Promise<never> {
    this.services.logger.warn(
      { workflowUUID: this.workflowUUID, executorId: this.services.executorId, owner: this.run.owner },
      `workflow ${this.workflowUUID}: this executor was fenced (another executor adopted the workflow); it stops running it`,
    );
    return this.abandon('fenced');
  }

  private check(functionID: number, functionName: string, record: OperationRecord): void {
    if (record.functionName !== functionName) this.policy.mismatch(this.workflowUUID, functionID, functionName, record.functionName);
    this.policy.matched(functionID, functionName, record);
  }

  private resultOf<T>(record: OperationRecord): T {
    if (record.error !== null) throw deserializeError(record.error);
    return deserialize<T>(record.output);
  }

  /** Waits until the database answers after `error`; abandons the execution if the runtime stops. */
  private async afterFailure(error: unknown): Promise<void> {
    if (sqlState(error) === FENCED_SQLSTATE) return this.fenced();
    if (this.services.state() !== 'running') return this.abandon('stopped');
    const connection = isConnectionFailure(error);
    this.services.logger[connection ? 'warn' : 'error'](
      { workflowUUID: this.workflowUUID, executorId: this.services.executorId, err: error },
      connection
        ? `workflow ${this.workflowUUID} lost its database connection; it goes on from its records once the database answers`
        : `workflow ${this.workflowUUID}: a statement of Operon's own failed; trying again`,
    );
    // A server error about the statement (not the connection) gets answers to pings: pace the retries.
    if (!connection) await this.statementRetry.wait();
    await this.services.outage.answers();
    if (this.services.state() !== 'running') return this.abandon('stopped');
  }

  /**
   * Reads the workflow's records again (after a failure), as soon as the database answers, and
   * whether it was cancelled: the lost answer may have been the one that said so (a transaction's
   * commit returns the cancel's mark, a record write reads the status), and the run must not
   * start another operation on the record it finds. The status is read under a share lock, so a
   * cancel still committing is waited for.
   */
  private async reloadRecords(): Promise<void> {
    for (;;) {
      try {
        const [all, cancelled] = await Promise.all([
          this.services.systemDb.loadRecords([this.workflowUUID]),
          this.services.systemDb.confirmCancelled(this.workflowUUID),
        ]);
        this.records = all.get(this.workflowUUID) ?? new Map();
        if (cancelled) this.cancel();
        return;
      } catch (error) {
        if (!isInfrastructureFailure(error)) throw error;
        await this.afterFailure(error);
      }
    }
  }
}

/** The error a workflow's caller gets when the testing runtime was reset under it; marked, as a shutdown's is. */
export function resetError(workflowUUID: string): Error {
  return markInfrastructure(new OperonShutdownError(`workflow ${workflowUUID} was abandoned by the testing runtime's reset(): it never resumes, and its records are gone`));
}

/** The error a workflow's caller gets when the runtime stopped under it; marked, so no step treats it as the app's. */
export function abandonedError(workflowUUID: string): Error {
  return markInfrastructure(new OperonShutdownError(`workflow ${workflowUUID} was interrupted by shutdown; it resumes at the next start`));
}
