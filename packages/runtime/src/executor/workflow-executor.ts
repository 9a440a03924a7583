/**
 * Starts, runs and recovers workflows. A first run reads no records (it cannot have any) and costs
 * one INSERT to start and one UPDATE to end; a re-run loads all of its records in one query per
 * database. A workflow cut off by the database going away stays PENDING and is run again here once
 * the database answers, so its callers still get its result.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Context } from '@opentelemetry/api';
import type { Logger } from 'pino';
import { OperonNotRegisteredError, OperonShutdownError, OperonWorkflowConflictError, type WorkflowHandle } from '@operon/sdk';
import { isInfrastructureFailure } from '../database/infrastructure-failure.js';
import type { OperationRecord, SystemDatabase, WorkflowIdentity, WorkflowRow } from '../system-db/system-database.js';
import { authorize } from './authorization.js';
import { runCommunicator } from './communicator-runner.js';
import type { FunctionRegistry, RegisteredFunction } from './function-registry.js';
import type { WorkflowMessaging } from './workflow-messaging.js';
import { runTransaction } from './transaction-runner.js';
import { WorkflowContextImpl, type SpannedRun, type WorkflowRun } from './workflow-context.js';
import { localHandle, recordedHandle } from './workflow-handle.js';
import { deserialize, serialize, serializeError } from './serialization.js';
import { identityOf } from '../system-db/workflow-status.js';
import { inputsAttribute, loggableInputs, logMasksOf } from '../telemetry/log-masking.js';
import { NOOP_RUNTIME_SPAN, type RuntimeSpan, type Tracing } from '../telemetry/tracing.js';

export interface ExecutorDeps {
  readonly systemDb: SystemDatabase;
  readonly appPool: pg.Pool;
  readonly registry: FunctionRegistry;
  readonly executorId: string;
  readonly logger: Logger;
  readonly application: Readonly<Record<string, unknown>>;
  readonly tracing: Tracing;
}

export interface StartOptions {
  readonly workflowUUID?: string;
  readonly identity?: WorkflowIdentity;
  /** The HTTP request that started the workflow, recorded with it. */
  readonly request?: unknown;
  readonly parentUUID?: string;
  /** The span (or incoming trace context) the workflow's span is a child of. */
  readonly parentSpan?: RuntimeSpan | Context;
}

export type ExecutorState = 'running' | 'stopping' | 'stopped';

export const ANONYMOUS: WorkflowIdentity = Object.freeze({ authenticatedUser: '', authenticatedRoles: [], assumedRole: '' });

/** Workflows that wrap one transaction or communicator called from outside any workflow. */
export const TEMPORARY_PREFIX = 'operon.temporary:';

/** A workflow running (or starting) in this process: who owns its UUID, and its outcome. */
interface ActiveWorkflow {
  readonly workflowName: string;
  readonly authenticatedUser: string;
  /** Settles once the start is durable (rejects if it failed, a conflict included). */
  readonly started: Promise<boolean>;
  readonly result: Promise<unknown>;
}

type WorkflowOwner = Pick<ActiveWorkflow, 'workflowName' | 'authenticatedUser'>;

/** A UUID names one workflow of one function, started by one caller. */
function sameOwner(a: WorkflowOwner, b: WorkflowOwner): boolean {
  return a.workflowName === b.workflowName && a.authenticatedUser === b.authenticatedUser;
}


const RECOVERY_PAGE = 500;
/** The database probe after an outage: first after 100 ms, then doubling up to 1 s. */
const RETRY_START_MS = 100;
const RETRY_MAX_MS = 1_000;
/** A caller waits for its start: past this, a start cut off by the database fails. */
const START_RETRY_LIMIT_MS = 30_000;

export class WorkflowExecutor {
  private readonly active = new Map<string, ActiveWorkflow>();
  private probe: Promise<void> | undefined;
  private stateName: ExecutorState = 'running';
  messaging!: WorkflowMessaging;

  constructor(readonly deps: ExecutorDeps) {
    // A log mask naming no parameter fails here, at startup, not when a secret is first logged.
    for (const fn of deps.registry.all()) logMasksOf(fn);
  }

  get state(): ExecutorState {
    return this.stateName;
  }

  get activeCount(): number {
    return this.active.size;
  }

  /**
   * Records and starts a workflow; resolves once its start is durable. A UUID that exists already
   * (here or in the database) gives a handle to that workflow, which never runs twice.
   */
  async startWorkflow(fn: RegisteredFunction, args: unknown[], options: StartOptions = {}): Promise<WorkflowHandle<unknown>> {
    if (fn.method.kind !== 'workflow') {
      throw new OperonNotRegisteredError(fn.name, `it is a ${fn.method.kind ?? 'handler'}, not a workflow`);
    }
    return this.start(fn.name, fn, args, options);
  }

  /** Runs a transaction or communicator as a one-operation workflow, idempotent under its UUID. */
  async startTemporaryWorkflow(fn: RegisteredFunction, args: unknown[], options: StartOptions = {}): Promise<WorkflowHandle<unknown>> {
    return this.start(TEMPORARY_PREFIX + fn.name, fn, args, options);
  }

  private async start(
    workflowName: string,
    fn: RegisteredFunction,
    args: unknown[],
    options: StartOptions,
  ): Promise<WorkflowHandle<unknown>> {
    if (this.stateName !== 'running') throw new OperonShutdownError('the runtime is shutting down and starts no new workflows');
    const workflowUUID = options.workflowUUID ?? randomUUID();
    // Checked before joining a running workflow too: a caller without the roles gets nothing of it.
    const identity = authorize(fn, options.identity ?? ANONYMOUS);
    const owner = { workflowName, authenticatedUser: identity.authenticatedUser };
    const running = this.active.get(workflowUUID);
    if (running) {
      if (sameOwner(running, owner)) return localHandle(this.deps.systemDb, workflowUUID, running.result);
      // Another function or caller holds this UUID here. If that start fails (it was itself a
      // conflicting start, or the database went away), this one may still be the first.
      if (await running.started.then(() => true, () => false)) throw new OperonWorkflowConflictError(workflowUUID);
      await running.result.catch(() => undefined);
      return this.start(workflowName, fn, args, options);
    }
    const inputs = serialize(args, `the inputs of ${fn.name}`) ?? '[]';
    let started!: (inserted: boolean) => void;
    let failedToStart!: (error: unknown) => void;
    const insertion = new Promise<boolean>((resolve, reject) => {
      started = resolve;
      failedToStart = reject;
    });
    // Registered before the first await, so a concurrent start of this UUID in this process joins it.
    const result = this.track(workflowUUID, { ...owner, started: insertion }, async () => {
      let inserted: boolean;
      let orphan: WorkflowRow | undefined;
      try {
        const record = {
          workflowUUID,
          workflowName,
          executorId: this.deps.executorId,
          inputs,
          ...identity,
          request: options.request === undefined ? null : JSON.stringify(options.request),
          parentUUID: options.parentUUID ?? null,
        };
        // An attempt cut off by the database may have committed before its answer was lost.
        let mayHaveCommitted = false;
        inserted = await this.whileDatabaseAway(
          () => this.deps.systemDb.insertWorkflow(record),
          () => (mayHaveCommitted = true),
        );
        // The UUID is taken: it is this call again (a retry) only for the same function and caller.
        // Anyone else would otherwise be handed another workflow's result (a forged or reused UUID).
        if (!inserted) {
          const existing = await this.whileDatabaseAway(() => this.deps.systemDb.getWorkflow(workflowUUID));
          if (existing && !sameOwner(existing, owner)) throw new OperonWorkflowConflictError(workflowUUID);
          // Our own INSERT, committed with its answer lost: PENDING, of this executor, and run by
          // nobody (this start is the only one for the UUID in this process). Waiting for its result
          // would wait for the next restart's recovery; this start runs it instead.
          if (mayHaveCommitted && existing?.status === 'PENDING' && existing.executorId === this.deps.executorId) orphan = existing;
        }
      } catch (error) {
        failedToStart(error);
        throw error;
      }
      started(inserted);
      if (orphan) {
        const records = await this.whileDatabaseAway(() => this.deps.systemDb.loadRecords([workflowUUID]));
        const recorded = { workflowUUID, fn, identity: identityOf(orphan), parentSpan: options.parentSpan };
        return this.execute(recorded, workflowName.startsWith(TEMPORARY_PREFIX), deserialize<unknown[]>(orphan.inputs) ?? [], records.get(workflowUUID) ?? new Map());
      }
      if (!inserted) return recordedHandle(this.deps.systemDb, workflowUUID).getResult();
      const run = { workflowUUID, fn, identity, parentSpan: options.parentSpan };
      return this.execute(run, workflowName.startsWith(TEMPORARY_PREFIX), args, undefined);
    });
    await insertion;
    return localHandle(this.deps.systemDb, workflowUUID, result);
  }

  /**
   * Runs a statement of a workflow's start again while the database is away, for a while: a
   * dropped connection or a restarting server then delays the caller instead of failing a start
   * the database takes a moment later. Safe because they are idempotent: the insert does nothing
   * when the UUID is taken, the others only read. `onRetry` hears of each failed attempt.
   */
  private async whileDatabaseAway<T>(statement: () => Promise<T>, onRetry: () => void = () => undefined): Promise<T> {
    const giveUpAt = Date.now() + START_RETRY_LIMIT_MS;
    for (;;) {
      try {
        return await statement();
      } catch (error) {
        if (!isInfrastructureFailure(error) || this.stateName !== 'running' || Date.now() >= giveUpAt) throw error;
        onRetry();
        // The same probe as interrupted workflows wait on, bounded by what is left of the caller's wait.
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([this.databaseAnswers(), new Promise((resolve) => (timer = setTimeout(resolve, giveUpAt - Date.now())))]);
        clearTimeout(timer);
      }
    }
  }

  private track(workflowUUID: string, owner: Omit<ActiveWorkflow, 'result'>, work: () => Promise<unknown>): Promise<unknown> {
    const result = work();
    this.active.set(workflowUUID, { ...owner, result });
    // Nobody may ever ask for this result: its rejection must not be "unhandled".
    result.then(
      () => this.active.delete(workflowUUID),
      () => this.active.delete(workflowUUID),
    );
    return result;
  }

  /** Runs a workflow to its end and records the end; retries here while the database is away. */
  private async execute(
    run: WorkflowRun,
    temporary: boolean,
    args: unknown[],
    records: ReadonlyMap<number, OperationRecord> | undefined,
  ): Promise<unknown> {
    for (;;) {
      try {
        return await this.runOnce(run, temporary, args, records);
      } catch (error) {
        if (!isInfrastructureFailure(error)) throw error;
        this.deps.logger.warn(
          { workflowUUID: run.workflowUUID, executorId: this.deps.executorId, err: error },
          `workflow ${run.workflowUUID} lost its database connection; running it again once the database answers`,
        );
        // Never re-run on stale records: what completed before the failure must replay, not run again.
        records = await this.recordsOnceDatabaseAnswers(run.workflowUUID);
      }
    }
  }

  /** The workflow's records, read as soon as the database answers again. */
  private async recordsOnceDatabaseAnswers(workflowUUID: string): Promise<ReadonlyMap<number, OperationRecord>> {
    for (;;) {
      if (this.stateName !== 'running') {
        throw new OperonShutdownError(`workflow ${workflowUUID} was interrupted by shutdown; it resumes at the next start`);
      }
      await this.databaseAnswers();
      try {
        return (await this.deps.systemDb.loadRecords([workflowUUID])).get(workflowUUID) ?? new Map<number, OperationRecord>();
      } catch (error) {
        if (!isInfrastructureFailure(error)) throw error;
      }
    }
  }

  /**
   * Resolves once both databases answer. One probe serves every workflow cut off at the same
   * time, so an outage costs one query per interval, not one per waiting workflow, and they all
   * resume together as soon as it ends.
   */
  private databaseAnswers(): Promise<void> {
    this.probe ??= (async () => {
      let waitMs = RETRY_START_MS;
      try {
        for (;;) {
          await new Promise((resolve) => setTimeout(resolve, waitMs));
          if (this.stateName !== 'running' || (await this.deps.systemDb.ping())) return;
          waitMs = Math.min(waitMs * 2, RETRY_MAX_MS);
        }
      } finally {
        this.probe = undefined;
      }
    })();
    return this.probe;
  }

  private async runOnce(
    run: WorkflowRun,
    temporary: boolean,
    args: unknown[],
    records: ReadonlyMap<number, OperationRecord> | undefined,
  ): Promise<unknown> {
    const tracing = this.deps.tracing;
    const span = tracing.enabled
      ? tracing.startSpan(
          run.fn.name,
          {
            'operon.workflow_uuid': run.workflowUUID,
            'operon.operation_type': 'workflow',
            'operon.executor_id': this.deps.executorId,
            'operon.inputs': inputsAttribute(run.fn, args),
          },
          run.parentSpan,
        )
      : NOOP_RUNTIME_SPAN;
    const spanned: SpannedRun = { ...run, span };
    const ctx = new WorkflowContextImpl(this, spanned, records);
    if (this.deps.logger.isLevelEnabled('debug')) {
      ctx.logger.debug({ inputs: loggableInputs(run.fn, args), rerun: records !== undefined }, `workflow ${run.fn.name} started`);
    }
    let outputText: string | null;
    try {
      const output = temporary
        ? await ctx.operation(run.fn.name, (functionID) => this.runOperation(spanned, functionID, run.fn, args))
        : await run.fn.method.fn.call(run.fn.cls, ctx, ...args);
      outputText = serialize(output, `the output of workflow ${run.fn.name}`);
    } catch (error) {
      span.end(error);
      if (isInfrastructureFailure(error)) throw error;
      await this.deps.systemDb.recordWorkflowError(run.workflowUUID, serializeError(error));
      throw error;
    }
    span.end();
    await this.deps.systemDb.recordWorkflowSuccess(run.workflowUUID, outputText);
    return deserialize(outputText);
  }

  /** Runs one transaction or communicator of a workflow at `functionID` (no record exists yet). */
  async runOperation(run: SpannedRun, functionID: number, fn: RegisteredFunction, args: unknown[]): Promise<unknown> {
    const kind = fn.method.kind;
    if (kind !== 'transaction' && kind !== 'communicator') {
      throw new OperonNotRegisteredError(fn.name, 'only transactions and communicators can be invoked as operations');
    }
    const tracing = this.deps.tracing;
    const span = tracing.enabled
      ? tracing.startSpan(
          fn.name,
          {
            'operon.workflow_uuid': run.workflowUUID,
            'operon.function_id': functionID,
            'operon.operation_type': kind,
            'operon.inputs': inputsAttribute(fn, args),
          },
          run.span,
        )
      : NOOP_RUNTIME_SPAN;
    const site = { workflowUUID: run.workflowUUID, functionID, span };
    try {
      const output = await (kind === 'transaction' ? runTransaction(this.deps, site, fn, args) : runCommunicator(this.deps, site, fn, args));
      span.end();
      return output;
    } catch (error) {
      span.end(error);
      throw error;
    }
  }

  retrieveWorkflow<R = unknown>(workflowUUID: string): WorkflowHandle<R> {
    const running = this.active.get(workflowUUID);
    if (running) return localHandle(this.deps.systemDb, workflowUUID, running.result as Promise<R>);
    return recordedHandle<R>(this.deps.systemDb, workflowUUID);
  }

  /**
   * Resumes every PENDING workflow of this executor that is not running here. Pages through them
   * and loads each page's records in one query per database, so thousands of workflows cost a few
   * dozen queries to resume; the pool bounds how many connections their operations then use.
   */
  async recoverPendingWorkflows(): Promise<number> {
    let after = '';
    let recovered = 0;
    for (;;) {
      const page = await this.deps.systemDb.listPendingWorkflows(this.deps.executorId, after, RECOVERY_PAGE);
      if (page.length === 0) return recovered;
      after = page[page.length - 1]!.workflowUUID;
      const resumable = page.filter((row) => !this.active.has(row.workflowUUID));
      const records = await this.deps.systemDb.loadRecords(resumable.map((row) => row.workflowUUID));
      for (const row of resumable) {
        if (this.resume(row, records.get(row.workflowUUID) ?? new Map())) recovered++;
      }
    }
  }

  private resume(row: WorkflowRow, records: ReadonlyMap<number, OperationRecord>): boolean {
    const temporary = row.workflowName.startsWith(TEMPORARY_PREFIX);
    const name = temporary ? row.workflowName.slice(TEMPORARY_PREFIX.length) : row.workflowName;
    const fn = this.deps.registry.byQualifiedName(name);
    if (!fn) {
      this.deps.logger.error(
        { workflowUUID: row.workflowUUID, executorId: this.deps.executorId },
        `cannot recover workflow ${row.workflowUUID}: ${name} is not registered in this app; it stays PENDING`,
      );
      return false;
    }
    const identity = identityOf(row);
    const args = deserialize<unknown[]>(row.inputs) ?? [];
    const owner = { workflowName: row.workflowName, authenticatedUser: row.authenticatedUser, started: Promise.resolve(true) };
    this.track(row.workflowUUID, owner, () => this.execute({ workflowUUID: row.workflowUUID, fn, identity }, temporary, args, records));
    return true;
  }

  /** Stops starting workflows and waits up to `timeoutMs` for running ones; the rest resume at the next start. */
  async stop(timeoutMs: number): Promise<void> {
    if (this.stateName === 'stopped') return;
    this.stateName = 'stopping';
    this.messaging?.stop();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.active.values()].map((running) => running.result)),
      new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs))),
    ]);
    clearTimeout(timer);
    this.stateName = 'stopped';
  }
}
