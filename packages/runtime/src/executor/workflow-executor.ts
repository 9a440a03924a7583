/**
 * Starts, tracks and recovers workflows; each run is a WorkflowExecution (the owner of its steps).
 * A first run reads no records (it cannot have any) and costs one INSERT to start and one UPDATE
 * to end; a recovered run loads all of its records in one query per database.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type pg from 'pg';
import type { Context } from '@opentelemetry/api';
import type { Logger } from 'pino';
import { OperonNotRegisteredError, OperonShutdownError, OperonVersionLoadError, OperonWorkflowConflictError, registeredQueues, type EnqueueOptions, type RecordedHttpRequest, type WorkflowHandle } from '@operon/sdk';
import { checkIdentifier } from '../client/identifiers.js';
import { isInfrastructureFailure, markInfrastructure } from '../database/infrastructure-failure.js';
import type { DequeuedRow, OperationRecord, SystemDatabase, WorkflowIdentity, WorkflowKind, WorkflowRow, ClaimedRow } from '../system-db/system-database.js';
import { identityOf, requestOf } from '../system-db/workflow-status.js';
import { logMasksOf } from '../telemetry/log-masking.js';
import type { RuntimeSpan, Tracing } from '../telemetry/tracing.js';
import { authorize } from './authorization.js';
import { DatabaseOutage } from './database-outage.js';
import type { FunctionRegistry, RegisteredFunction } from './function-registry.js';
import { deserialize, serialize, serializeError } from './serialization.js';
import { sameStoredValue } from './value-codec.js';
import { workflowBody } from './workflow-context.js';
import { WorkflowExecution, abandonedError, resetError, type AbandonReason, type ChildStart, type ExecutionServices, type ExecutionRun, type StepSite } from './workflow-execution.js';
import { ExecutorLease, OperonExecutorIdTakenError, type LeaseTiming } from './executor-lease.js';
import type { DatabaseClock } from './database-clock.js';
import type { WorkflowClock } from './workflow-clock.js';
import { localHandle, recordedHandle, awaitRecordedResult } from './workflow-handle.js';
import type { WorkflowMessaging } from './workflow-messaging.js';
import type { StepPolicy } from './step-policy.js';
import { StatementBatcher } from '../system-db/statement-batcher.js';
import { queueWaitKey } from '../system-db/notification-channel.js';
import { limitsOf, placementOf } from './queue-placement.js';
import { QueueRunner } from './queue-runner.js';
import { UnrunCancels } from './unrun-cancels.js';
import type { RuntimeMetrics } from '../telemetry/runtime-metrics.js';
import type { LoadedVersions } from '../versions/loaded-versions.js';
import type { BindTransactionClient } from '../database/transaction-clients.js';

export interface ExecutorDeps {
  readonly systemDb: SystemDatabase;
  readonly appPool: pg.Pool;
  readonly registry: FunctionRegistry;
  /** OPERON_EXECUTOR_ID; undefined for one generated at start. */
  readonly executorId: string | undefined;
  readonly logger: Logger;
  readonly application: Readonly<Record<string, unknown>>;
  readonly tracing: Tracing;
  readonly messaging: WorkflowMessaging;
  /** A workflow recovered this many times without ending becomes RETRIES_EXCEEDED. */
  readonly maxRecoveryAttempts: number;
  /** The application_name of this runtime's database sessions. */
  readonly sessionTag: string;
  /** This executor's lease and heartbeat interval (`runtimeConfig.leaseMs`, `heartbeatIntervalMs`); 6 s and 2 s when absent. */
  readonly leaseTiming?: LeaseTiming;
  /**
   * The workflow clock (workflow-clock.ts), by which every deadline is recorded and waited for:
   * `databaseClock` unless a test put a virtual one in its place.
   */
  readonly clock: WorkflowClock;
  /** The database's clock, set from every heartbeat. */
  readonly databaseClock: DatabaseClock;
  /** Counts starts, ends, operation latencies, recoveries and fencings for `GET /operon/metrics`. */
  readonly metrics?: RuntimeMetrics;
  /** Told synchronously when an operation's record was written by this executor (the testing runtime's crashAfter). */
  readonly afterRecorded?: (site: StepSite) => void;
  /** The versions loaded beside the current code, for workflows that started on other code. */
  readonly versions: LoadedVersions;
  /** What a transaction's `ctx.client` is (`database.client`); `pg`'s client when absent. */
  readonly bindClient?: BindTransactionClient;
}

export interface StartOptions {
  /** Checked by the caller: the identifier rule, and for a client's UUID the derived namespace. */
  readonly workflowUUID?: string;
  readonly identity?: WorkflowIdentity;
  /** The HTTP request that started the workflow, recorded with it. */
  readonly request?: RecordedHttpRequest;
  readonly parentUUID?: string;
  /** The span (or incoming trace context) the workflow's span is a child of. */
  readonly parentSpan?: RuntimeSpan | Context;
}

export type ExecutorState = 'running' | 'stopping' | 'stopped';

export const ANONYMOUS: WorkflowIdentity = Object.freeze({ authenticatedUser: '', authenticatedRoles: [], assumedRole: '' });

/** Who a workflow UUID belongs to: one function, of one kind, started by one caller with one input, under one parent. */
interface WorkflowOwner {
  readonly workflowName: string;
  readonly kind: WorkflowKind;
  readonly authenticatedUser: string;
  readonly inputs: string;
  readonly parentUUID: string | null;
}

/** A workflow running (or starting) in this process: who owns its UUID, and its outcome. */
interface ActiveWorkflow extends WorkflowOwner {
  /** Settles once the start is durable (rejects if it failed, a conflict included). */
  readonly started: Promise<boolean>;
  result: Promise<unknown>;
  /** The executor instance that runs it here. */
  readonly runBy: string;
  /**
   * Gives up on it, its code never resumed: its result rejects with a shutdown error (the runtime
   * stopped), or becomes the recorded one (another executor owns the workflow now).
   */
  readonly abandon: (reason: AbandonReason) => void;
  readonly abandoned: () => boolean;
  /** True once this process runs it; false while it only waits for its result (it runs elsewhere). */
  executing: boolean;
}

/** A UUID names one workflow: the same function and kind, caller, inputs and parent; anything else is a conflict. */
function sameOwner(a: WorkflowOwner, b: WorkflowOwner): boolean {
  return (
    a.workflowName === b.workflowName &&
    a.kind === b.kind &&
    a.authenticatedUser === b.authenticatedUser &&
    (a.parentUUID ?? null) === (b.parentUUID ?? null) &&
    // The same inputs stored by an earlier version may be another text (format 1 before format 2).
    sameStoredValue(a.inputs, b.inputs)
  );
}

const RECOVERY_PAGE = 500;
/** A caller waits for its start: past this, a start cut off by the database fails. */
const START_RETRY_LIMIT_MS = 30_000;

export class WorkflowExecutor {
  private readonly active = new Map<string, ActiveWorkflow>();
  /** The executions running here, by UUID: a cancel reaches them. */
  private readonly executions = new Map<string, WorkflowExecution>();
  /** Cancels that reached no execution here: a claim about to run one, or one claimed and not run. */
  private readonly unrun: UnrunCancels;
  private stateName: ExecutorState = 'running';
  /** Died where it stood (crash()): nothing more may commit, not even a transaction already under way. */
  private crashed = false;
  /** Workflows the stop interrupted: their recovery attempts are forgotten (a deploy is not a crash). */
  private readonly interrupted = new Set<string>();
  private readonly outage: DatabaseOutage;
  /** The executions' services; replaced at each reset, so those of the executions before it say the runtime stopped. */
  private services: ExecutionServices;
  /** The services of each version loaded beside the current one: the same, with that version's registry. */
  private versionServices = new WeakMap<FunctionRegistry, ExecutionServices>();
  /** Counts resets (the testing runtime's): executions of an earlier generation are dead. */
  private generation = 0;
  /** Set while a reset replaces the instance: a start waits for it, so it is recorded under the new one. */
  private resetting: Promise<void> | undefined;
  readonly lease: ExecutorLease;
  /** Takes work from the queues once recovery is done. */
  readonly queues: QueueRunner;
  /** Communicators calling out, until their outcome is recorded. */
  private readonly inFlight = new Set<Promise<unknown>>();
  /** One adoption at a time: concurrent ones would only skip each other's locked rows. */
  private adoption: Promise<unknown> = Promise.resolve();
  /**
   * Recovery attempts count recovered runs that died performing an operation: one is counted
   * before a recovered run performs its first operation, and forgotten once it completes one or
   * reaches a wait. Only a workflow that keeps dying in its next operation (it crashes its process)
   * reaches the limit; one that sleeps or waits through any number of crashes does not.
   */
  private readonly progressResets = new StatementBatcher<string>((uuids) => this.deps.systemDb.resetRecoveryAttempts(uuids));
  private readonly attemptCounts = new StatementBatcher<string>((uuids) => this.deps.systemDb.countRecoveryAttempts(uuids));

  constructor(readonly deps: ExecutorDeps) {
    // A log mask naming no parameter fails here, at startup, not when a secret is first logged.
    for (const fn of deps.registry.all()) logMasksOf(fn);
    this.unrun = new UnrunCancels((workflowUUID, owner) => deps.systemDb.releaseCancelled(workflowUUID, owner), deps.logger);
    deps.messaging.onCancelled = (workflowUUID) => {
      const execution = this.executions.get(workflowUUID);
      if (execution) execution.cancel();
      else this.unrun.cancelled(workflowUUID);
    };
    deps.messaging.runningWorkflows = () => [...this.executions.keys(), ...this.unrun.holding()];
    this.outage = new DatabaseOutage(
      () => deps.systemDb.ping(),
      () => this.stateName !== 'running',
    );
    this.lease = new ExecutorLease(deps.systemDb, deps.logger, deps.executorId, deps.sessionTag, deps.databaseClock, {
      adopt: (instances) => void this.adoptInTurn(instances),
      fenced: () => void this.fenced(),
      loadedVersions: () => deps.versions.versions(),
    }, deps.registry.version, deps.leaseTiming);
    this.queues = new QueueRunner({
      systemDb: deps.systemDb,
      logger: deps.logger,
      clock: deps.clock,
      claimer: () => ({ owner: this.lease.instanceId, executorId: this.lease.executorId }),
      workflows: deps.registry.all().filter((fn) => fn.method.kind === 'workflow').map((fn) => fn.name),
      skipVersions: () => deps.versions.unloadable(),
      run: (row) => this.runDequeued(row),
    });
    deps.messaging.onEnqueue(() => this.queues.wake());
    this.services = this.servicesOfGeneration(0);
  }

  /**
   * The services of the executions of `generation`: once a reset has begun the next generation,
   * they say the runtime stopped and crashed, so those executions run nothing more and commit
   * nothing, not even a transaction already under way, as after a crash.
   */
  private servicesOfGeneration(generation: number): ExecutionServices {
    const deps = this.deps;
    const lease = this.lease;
    const current = () => generation === this.generation;
    return {
      ...deps,
      get executorId() {
        return lease.executorId;
      },
      lease,
      untilRecorded: <T>(work: Promise<T>): Promise<T> => {
        // An abandoned generation's call can record nothing: nothing waits for it.
        if (!current()) return work;
        this.inFlight.add(work);
        const done = () => this.inFlight.delete(work);
        work.then(done, done);
        return work;
      },
      outage: this.outage,
      state: () => (current() ? this.stateName : 'stopped'),
      crashed: () => this.crashed || !current(),
      workflows: {
        // An abandoned execution's child would run in the next test.
        startChild: (fn, args, options) =>
          current() ? this.startChild(fn, args, options) : Promise.reject(markInfrastructure(new OperonShutdownError('the testing runtime was reset: this workflow starts no child'))),
        resultOf: (workflowUUID) => this.resultOf(workflowUUID),
      },
      // Many in one statement; awaited, so the count is durable before the operation runs.
      attempting: (workflowUUID) => this.attemptCounts.add(workflowUUID),
      // Best effort, many in one statement: a lost reset only leaves the count one higher.
      progressed: (workflowUUID) =>
        void this.progressResets.add(workflowUUID).catch((error: unknown) =>
          deps.logger.debug({ err: error, workflowUUID }, 'could not reset the recovery attempts of a workflow that made progress'),
        ),
    };
  }

  get state(): ExecutorState {
    return this.stateName;
  }

  get activeCount(): number {
    return this.active.size;
  }

  /** Communicators calling out now (their outcome not yet recorded). */
  get callingOut(): number {
    return this.inFlight.size;
  }

  /**
   * Records and starts a workflow; resolves once its start is durable. A UUID that exists already
   * (here or in the database) for the same call gives a handle to that workflow, which never runs
   * twice; for another function, caller, input or parent it is a conflict.
   */
  async startWorkflow(fn: RegisteredFunction, args: unknown[], options: StartOptions = {}): Promise<WorkflowHandle<unknown>> {
    if (fn.method.kind !== 'workflow') {
      throw new OperonNotRegisteredError(fn.name, `it is a ${fn.method.kind ?? 'handler'}, not a workflow`);
    }
    return this.start('workflow', fn, args, options);
  }

  /** Runs a transaction or communicator as a one-operation workflow, idempotent under its UUID. */
  async startOperation(fn: RegisteredFunction, args: unknown[], options: StartOptions = {}): Promise<WorkflowHandle<unknown>> {
    if (fn.method.kind !== 'transaction' && fn.method.kind !== 'communicator') {
      throw new OperonNotRegisteredError(fn.name, `it is a ${fn.method.kind ?? 'handler'}, not a transaction or communicator`);
    }
    return this.start('operation', fn, args, options);
  }

  private async startChild(fn: RegisteredFunction, args: unknown[], options: ChildStart): Promise<void> {
    if (options.queue) await this.enqueueWorkflow(fn, args, { ...options, queue: options.queue });
    else await this.startWorkflow(fn, args, options);
  }

  /**
   * Records a workflow as ENQUEUED on a queue (one INSERT); an executor with room starts it. A UUID
   * that exists already for the same call gives a handle to that workflow; a deduplication id the
   * queue holds is refused.
   */
  async enqueueWorkflow(fn: RegisteredFunction, args: unknown[], options: StartOptions & { readonly queue: EnqueueOptions }): Promise<WorkflowHandle<unknown>> {
    if (fn.method.kind !== 'workflow') {
      throw new OperonNotRegisteredError(fn.name, `it is a ${fn.method.kind ?? 'handler'}, and only workflows can be enqueued`);
    }
    while (this.resetting) await this.resetting;
    if (this.stateName !== 'running') throw markInfrastructure(new OperonShutdownError('the runtime is shutting down and enqueues no new workflows'));
    const placement = placementOf(options.queue, this.deps.clock.now());
    const workflowUUID = options.workflowUUID === undefined ? randomUUID() : checkIdentifier('workflow UUID', options.workflowUUID);
    const identity = authorize(fn, options.identity ?? ANONYMOUS);
    const inputs = serialize(args, `the inputs of ${fn.name}`, 'inputs') ?? '[]';
    const owner: WorkflowOwner = { workflowName: fn.name, kind: 'workflow', authenticatedUser: identity.authenticatedUser, inputs, parentUUID: options.parentUUID ?? null };
    const record = {
      workflowUUID,
      executorId: this.lease.executorId,
      owner: this.lease.instanceId,
      ...owner,
      ...identity,
      request: options.request === undefined ? null : JSON.stringify(options.request),
      version: fn.version,
    };
    const inserted = await this.whileDatabaseAway(() => this.deps.systemDb.enqueueWorkflow(record, placement, this.deps.clock.now()));
    if (inserted) {
      this.queues.wakeAt(placement.notBefore);
      this.deps.messaging.wake(queueWaitKey(placement.queueName));
    } else {
      const existing = this.active.get(workflowUUID) ?? (await this.whileDatabaseAway(() => this.deps.systemDb.getWorkflow(workflowUUID)));
      if (existing && !sameOwner(existing, owner)) throw new OperonWorkflowConflictError(workflowUUID);
    }
    return {
      getWorkflowUUID: () => workflowUUID,
      getStatus: () => this.retrieveWorkflow(workflowUUID).getStatus(),
      // Asked when called: once this process dequeued it, its result comes from here.
      getResult: () => this.resultOf(workflowUUID),
    };
  }

  /** Runs a workflow a dequeue just gave this instance: its first run. */
  private runDequeued(row: DequeuedRow): Promise<unknown> {
    // Enqueued by code of another version: it starts on that version, loaded beside this one.
    if (!this.deps.versions.isCurrent(row.version)) {
      // Not on this code, whatever the current code registers: during a stop it is left for the next executor.
      return this.stateName === 'running' ? this.runDequeuedOnVersion(row, row.version!) : Promise.resolve();
    }
    const fn = this.deps.registry.byQualifiedName(row.workflowName);
    if (!fn || this.stateName !== 'running') {
      if (fn) return Promise.resolve();
      // Left PENDING it would hold a slot of its queue forever: it ends, saying why.
      const error = new OperonNotRegisteredError(row.workflowName, `the executor that dequeued it from queue ${row.queueName} does not register it`);
      this.deps.logger.error({ workflowUUID: row.workflowUUID, queue: row.queueName }, error.message);
      return this.deps.systemDb
        .recordWorkflowEnd({ workflowUUID: row.workflowUUID, owner: row.owner ?? '', status: 'ERROR', output: null, error: serializeError(error) })
        .catch(() => undefined);
    }
    const run: ExecutionRun = { workflowUUID: row.workflowUUID, fn, kind: row.kind, identity: identityOf(row), request: requestOf(row), owner: row.owner ?? '', epoch: row.ownerEpoch };
    this.deps.metrics?.workflowStarted(fn.name);
    return this.track(row.workflowUUID, { ...row, started: Promise.resolve(true) }, run.owner, async (abandon, executing, abandoned) => {
      executing();
      return this.execute(run, row.inputs, await this.recordsOfDequeued(row), abandon, abandoned);
    });
  }

  /**
   * A first run has no records. One that ran before (sent back to its queue by an adoption or a
   * resume: its epoch moved on) goes on from its records, as a recovery does: what it did is not
   * done again.
   */
  private async recordsOfDequeued(row: DequeuedRow): Promise<ReadonlyMap<number, OperationRecord> | undefined> {
    if (row.ownerEpoch === 0) return undefined;
    const records = await this.whileDatabaseAway(() => this.deps.systemDb.loadRecords([row.workflowUUID]));
    return records.get(row.workflowUUID) ?? new Map();
  }

  private async runDequeuedOnVersion(row: DequeuedRow, version: string): Promise<unknown> {
    const versions = this.deps.versions;
    let fn: RegisteredFunction | undefined;
    let failure: Error;
    try {
      fn = (await versions.acquire(version)).byQualifiedName(row.workflowName);
      failure = new OperonNotRegisteredError(row.workflowName, `version ${version} does not register it`);
    } catch (error) {
      failure = error as Error;
    }
    if (!fn) {
      versions.release(version);
      // Its code may load elsewhere (another executor has the bundle, or the packages it imports):
      // back in its queue, never ended for it. Not handed over PENDING: that would hold a slot of
      // its queue until an executor that can load it comes, for ever if none does. This process's
      // dequeues skip that version from now on.
      if (failure instanceof OperonVersionLoadError) return this.requeue(row, failure);
      // Its version loads but does not register it: no executor can run it. Left PENDING it would
      // hold a slot of its queue forever: it ends, saying why.
      this.deps.logger.error({ workflowUUID: row.workflowUUID, queue: row.queueName, version }, failure.message);
      return this.deps.systemDb
        .recordWorkflowEnd({ workflowUUID: row.workflowUUID, owner: row.owner ?? '', status: 'ERROR', output: null, error: serializeError(failure) })
        .catch(() => undefined);
    }
    const run: ExecutionRun = { workflowUUID: row.workflowUUID, fn, kind: row.kind, identity: identityOf(row), request: requestOf(row), owner: row.owner ?? '', epoch: row.ownerEpoch };
    return this.track(row.workflowUUID, { ...row, started: Promise.resolve(true) }, run.owner, (abandon, executing, abandoned) => {
      executing();
      return this.holding(version, this.recordsOfDequeued(row).then((records) => this.execute(run, row.inputs, records, abandon, abandoned)), abandoned);
    });
  }

  private async start(kind: WorkflowKind, fn: RegisteredFunction, args: unknown[], options: StartOptions): Promise<WorkflowHandle<unknown>> {
    // A start during a reset belongs to the test after it: recorded under the new instance.
    while (this.resetting) await this.resetting;
    const generation = this.generation;
    // Marked as the runtime's own: a child start refused by a stop abandons its parent, unseen by its code.
    if (this.stateName !== 'running') throw markInfrastructure(new OperonShutdownError('the runtime is shutting down and starts no new workflows'));
    const workflowUUID = options.workflowUUID === undefined ? randomUUID() : checkIdentifier('workflow UUID', options.workflowUUID);
    // Checked before joining a running workflow too: a caller without the roles gets nothing of it.
    const identity = authorize(fn, options.identity ?? ANONYMOUS);
    const inputs = serialize(args, `the inputs of ${fn.name}`, 'inputs') ?? '[]';
    const owner: WorkflowOwner = { workflowName: fn.name, kind, authenticatedUser: identity.authenticatedUser, inputs, parentUUID: options.parentUUID ?? null };
    const running = this.active.get(workflowUUID);
    if (running) {
      if (sameOwner(running, owner)) return localHandle(this.deps.systemDb, workflowUUID, running.result);
      // Another call holds this UUID here. If that start fails (it was itself a conflicting start,
      // or the database went away), this one may still be the first.
      if (await running.started.then(() => true, () => false)) throw new OperonWorkflowConflictError(workflowUUID);
      await running.result.catch(() => undefined);
      return this.start(kind, fn, args, options);
    }
    let started!: (inserted: boolean) => void;
    let failedToStart!: (error: unknown) => void;
    const insertion = new Promise<boolean>((resolve, reject) => {
      started = resolve;
      failedToStart = reject;
    });
    const run: ExecutionRun = { workflowUUID, fn, kind, identity, request: options.request ?? null, owner: this.lease.instanceId, epoch: 0, parentSpan: options.parentSpan };
    // Registered before the first await, so a concurrent start of this UUID in this process joins it.
    const result = this.track(workflowUUID, { ...owner, started: insertion }, run.owner, async (abandon, executing, abandoned) => {
      let inserted: boolean;
      let orphan: WorkflowRow | undefined;
      try {
        const record = {
          workflowUUID,
          executorId: this.lease.executorId,
          owner: run.owner,
          ...owner,
          ...identity,
          // A child started by code of an older version is of that version too.
          version: fn.version,
          request: options.request === undefined ? null : JSON.stringify(options.request),
        };
        // An attempt cut off by the database may have committed before its answer was lost.
        let mayHaveCommitted = false;
        inserted = await this.whileDatabaseAway(
          () => this.deps.systemDb.insertWorkflow(record),
          () => (mayHaveCommitted = true),
        );
        if (!inserted) {
          const existing = await this.whileDatabaseAway(() => this.deps.systemDb.getWorkflow(workflowUUID));
          if (existing && !sameOwner(existing, owner)) throw new OperonWorkflowConflictError(workflowUUID);
          // Our own INSERT, committed with its answer lost: PENDING, of this executor, and run by
          // nobody (this start is the only one for the UUID in this process). Waiting for its result
          // would wait for the next restart's recovery; this start runs it instead. A row an
          // adoption claimed meanwhile (its epoch moved on) is not ours: its adopter runs it.
          if (mayHaveCommitted && existing?.status === 'PENDING' && existing.owner === run.owner && existing.ownerEpoch === 0) orphan = existing;
        }
      } catch (error) {
        failedToStart(error);
        throw error;
      }
      started(inserted);
      // A reset began meanwhile: it abandoned this start (its record is gone), which runs nothing.
      if (generation !== this.generation) return abandoned.then(() => new Promise<never>(() => undefined));
      if (inserted) this.deps.metrics?.workflowStarted(fn.name);
      if (inserted && options.parentUUID === undefined) {
        // A top-level start is a record of its own (a child's is its parent's operation): the
        // testing runtime's crashAfter('Class.workflow') dies right after it, before the workflow runs.
        this.deps.afterRecorded?.({ workflowUUID, functionID: -1, functionName: fn.name, owner: run.owner, startedAt: Date.now() });
        if (this.crashed) return abandoned.then(() => new Promise<never>(() => undefined));
      }
      if (orphan) {
        const records = await this.whileDatabaseAway(() => this.deps.systemDb.loadRecords([workflowUUID]));
        // An adoption that claimed it while the records were read runs it here already: one run only.
        const here = this.active.get(workflowUUID);
        if (!here?.executing || here.abandoned()) {
          executing();
          return this.execute(run, inputs, records.get(workflowUUID) ?? new Map(), abandon, abandoned);
        }
      }
      // It runs elsewhere (or ran): wait for its record. If this process adopts it, it runs here then.
      if (!inserted) return awaitRecordedResult(this.deps.systemDb, workflowUUID);
      executing();
      return this.execute(run, inputs, undefined, abandon, abandoned);
    });
    await insertion;
    return localHandle(this.deps.systemDb, workflowUUID, result);
  }

  /**
   * Runs workflows a statement of this executor inserted itself for `owner` (a schedule's due
   * ticks): first runs, with no records to read. One running here already goes on as it is; once
   * the executor stops, they stay PENDING and are handed over like any other.
   */
  runInserted(fn: RegisteredFunction, workflowUUID: string, inputs: string, owner: string): void {
    if (this.stateName !== 'running' || this.active.has(workflowUUID)) return;
    const run: ExecutionRun = { workflowUUID, fn, kind: 'workflow', identity: ANONYMOUS, owner, epoch: 0 };
    const recorded = { workflowName: fn.name, kind: 'workflow' as const, authenticatedUser: '', inputs, parentUUID: null, started: Promise.resolve(true) };
    this.deps.metrics?.workflowStarted(fn.name);
    const result = this.track(workflowUUID, recorded, owner, (abandon, executing, abandoned) => {
      executing();
      return this.execute(run, inputs, undefined, abandon, abandoned);
    });
    // Nobody waits for a scheduled run here: its outcome is in its record.
    result.catch(() => undefined);
  }

  /** An execution of a recorded workflow under another policy (a replay), on this executor's services (with `registry`'s functions). */
  executionOf(run: ExecutionRun, records: ReadonlyMap<number, OperationRecord>, policy: StepPolicy, registry = this.deps.registry): WorkflowExecution {
    return new WorkflowExecution(registry === this.deps.registry ? this.services : this.servicesOf(registry), run, records, policy);
  }

  /** Runs a workflow to its end on its stored inputs: the first run sees exactly what a recovered run will. */
  private async execute(
    run: ExecutionRun,
    inputs: string,
    records: ReadonlyMap<number, OperationRecord> | undefined,
    abandon: (reason: AbandonReason) => void,
    abandoned: Promise<void>,
  ): Promise<unknown> {
    const { version } = run.fn;
    if (this.deps.versions.isCurrent(version)) return this.runExecution(this.services, run, inputs, records, abandon);
    // Code of another version (a child its workflow started): held loaded while it runs here.
    const registry = await this.deps.versions.acquire(version!);
    return this.holding(version!, this.runExecution(this.servicesOf(registry), run, inputs, records, abandon), abandoned);
  }

  private runExecution(
    services: ExecutionServices,
    run: ExecutionRun,
    inputs: string,
    records: ReadonlyMap<number, OperationRecord> | undefined,
    abandon: (reason: AbandonReason) => void,
  ): Promise<unknown> {
    const forget = () => {
      if (this.executions.get(run.workflowUUID) === execution) this.executions.delete(run.workflowUUID);
    };
    // An abandoned execution never settles: it is forgotten when abandoned.
    const execution = new WorkflowExecution(services, run, records, undefined, (reason) => {
      forget();
      abandon(reason);
    });
    this.executions.set(run.workflowUUID, execution);
    const args = deserialize<unknown[]>(inputs) ?? [];
    // A cancel heard after its claim and before now reached no execution: the status tells, before
    // anything runs. A question that failed is asked again once the database answers: a failure says nothing.
    const result = this.unrun.take(run.workflowUUID)
      ? execution
          .durably(() => this.deps.systemDb.cancelledAmong([run.workflowUUID]))
          .then((cancelled) => cancelled.length > 0 && execution.cancel(), () => undefined)
          .then(() => execution.runToEnd(args, workflowBody))
      : execution.runToEnd(args, workflowBody);
    result.then(forget, forget);
    return result;
  }

  /** The services for code of a loaded version: its workflows invoke and start that version's functions. */
  private servicesOf(registry: FunctionRegistry): ExecutionServices {
    let services = this.versionServices.get(registry);
    if (!services) {
      // Inherits the rest, getters included (the executor id changes when the instance is renewed).
      services = Object.create(this.services, { registry: { value: registry } }) as ExecutionServices;
      this.versionServices.set(registry, services);
    }
    return services;
  }

  /**
   * Adopts the workflows of `instances` now rather than at the next heartbeat: a resume, restart
   * or fork hands its workflows to a stopped instance, which any live executor adopts.
   */
  adoptNow(instances: readonly string[]): Promise<number> {
    return this.adoptInTurn(instances);
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
        await Promise.race([this.outage.answers(), new Promise((resolve) => (timer = setTimeout(resolve, giveUpAt - Date.now())))]);
        clearTimeout(timer);
      }
    }
  }

  /**
   * Tracks a workflow of this process under its UUID until it settles. `work` gets the function
   * that abandons it (the runtime stopped under it): its result then rejects with a shutdown
   * error, while its code is never resumed.
   */
  private track(
    workflowUUID: string,
    owner: Omit<ActiveWorkflow, 'result' | 'abandon' | 'abandoned' | 'runBy' | 'executing'>,
    runBy: string,
    work: (abandon: (reason: AbandonReason) => void, executing: () => void, abandoned: Promise<void>) => Promise<unknown>,
  ): Promise<unknown> {
    let settle!: (outcome: Promise<unknown>) => void;
    const abandonment = new Promise<unknown>((resolve) => (settle = resolve));
    let abandoned = false;
    let signalAbandoned!: () => void;
    const abandonedSignal = new Promise<void>((resolve) => (signalAbandoned = resolve));
    const abandon = (reason: AbandonReason) => {
      if (abandoned) return;
      abandoned = true;
      signalAbandoned();
      if (reason === 'stopped') {
        this.interrupted.add(workflowUUID);
        settle(Promise.reject(abandonedError(workflowUUID)));
      } else if (reason === 'reset') {
        settle(Promise.reject(resetError(workflowUUID)));
      } else {
        this.deps.metrics?.workflowFenced();
        // Another executor runs it now: this process's callers get its recorded result, once the
        // start in flight (if any) has settled, since until then the record may not exist yet.
        settle(owner.started.then(() => awaitRecordedResult(this.deps.systemDb, workflowUUID)));
      }
    };
    const entry: ActiveWorkflow = { ...owner, result: abandonment, runBy, abandon, abandoned: () => abandoned, executing: false };
    const result = Promise.race([work(abandon, () => (entry.executing = true), abandonedSignal), abandonment]);
    entry.result = result;
    this.active.set(workflowUUID, entry);
    // Nobody may ever ask for this result: its rejection must not be "unhandled".
    const forget = () => {
      if (this.active.get(workflowUUID) === entry) this.active.delete(workflowUUID);
    };
    result.then(forget, forget);
    return result;
  }

  retrieveWorkflow<R = unknown>(workflowUUID: string): WorkflowHandle<R> {
    const uuid = checkIdentifier('workflow UUID', workflowUUID);
    const running = this.active.get(uuid);
    if (running) return localHandle(this.deps.systemDb, uuid, running.result as Promise<R>);
    return recordedHandle<R>(this.deps.systemDb, uuid);
  }

  /** A workflow's result: from this process if it runs here, else from its record once it ends. */
  private resultOf(workflowUUID: string): Promise<unknown> {
    return this.active.get(workflowUUID)?.result ?? awaitRecordedResult(this.deps.systemDb, workflowUUID);
  }

  /** Registers this process as an executor (a new instance under a unique executor id). */
  register(): Promise<void> {
    return this.lease.register();
  }

  /**
   * Starts heartbeating and takes over, before anything is served, the PENDING workflows of every
   * executor that is not live: a restart's dead predecessor (same host, process gone, or the same
   * explicit executor id), and any whose lease lapsed; also those recorded before executors
   * registered under this executor id. Returns how many it resumed.
   */
  async recoverPendingWorkflows(): Promise<number> {
    const instances = await this.lease.start();
    const resumed = await this.adoptInTurn(instances, this.lease.executorId);
    await this.queues.start();
    void this.deps.systemDb.pruneExecutors().catch((error: unknown) => this.deps.logger.debug({ err: error }, 'could not prune old executors'));
    return resumed;
  }

  /** Adopts after the adoption in progress, if any. */
  private adoptInTurn(instances: readonly string[], legacyExecutorId?: string): Promise<number> {
    const next = this.adoption.then(() => this.adopt(instances, legacyExecutorId));
    this.adoption = next.catch(async (error: unknown) => {
      this.deps.logger.warn({ err: error, executorId: this.lease.executorId }, 'adopting workflows failed; trying again once the database answers');
      // A page may have been claimed (this instance owns it now) before the failure: once the
      // database answers, this instance's own PENDING workflows that do not run here are taken up,
      // with the rest of what was to be adopted, so nothing claimed is stranded.
      await this.outage.answers();
      if (this.stateName === 'running') void this.adoptInTurn([...instances, this.lease.instanceId], legacyExecutorId);
    });
    return next;
  }

  /**
   * Takes over the PENDING workflows of `instances` page by page (one statement a page; when
   * executors race, each workflow has one winner) and resumes them from their records, loaded in
   * one query per database a page. Thousands of workflows cost a few dozen queries; the pool
   * bounds how many connections their operations then use.
   */
  private async adopt(instances: readonly string[], legacyExecutorId?: string): Promise<number> {
    if (this.stateName !== 'running' || (instances.length === 0 && legacyExecutorId === undefined)) return 0;
    const claimer = { owner: this.lease.instanceId, executorId: this.lease.executorId };
    const max = this.deps.maxRecoveryAttempts;
    let after = '';
    let resumed = 0;
    // Queued workflows beyond this executor's worker limits go back to their queues, not to run here.
    const workerLimits = registeredQueues()
      .map(limitsOf)
      .flatMap((q) => (q.workerConcurrency === undefined ? [] : [{ name: q.name, workerConcurrency: q.workerConcurrency }]));
    const requeued = new Map<string, number>();
    for (;;) {
      const skipVersions = this.deps.versions.unloadable();
      const page = await this.queues.exclusive(() =>
        this.deps.systemDb.claimWorkflows(claimer, { instances, legacyExecutorId, skipVersions }, after, RECOVERY_PAGE, max, workerLimits),
      );
      if (page.lastUUID === undefined) break;
      after = page.lastUUID;
      for (const row of page.requeued) requeued.set(row.queueName!, (requeued.get(row.queueName!) ?? 0) + 1);
      for (const workflowUUID of page.exceeded) {
        this.deps.logger.error(
          { workflowUUID, executorId: claimer.executorId, maxRecoveryAttempts: max },
          `workflow ${workflowUUID} was recovered ${max} times without getting anywhere; it is RETRIES_EXCEEDED and is not recovered again`,
        );
      }
      const records = await this.deps.systemDb.loadRecords(page.resumable.map((row) => row.workflowUUID));
      for (const row of page.resumable) {
        if (await this.resume(row, claimer.owner, records.get(row.workflowUUID) ?? new Map())) resumed++;
      }
    }
    this.deps.metrics?.workflowsRecovered(resumed);
    if (instances.length > 0) {
      this.deps.logger.info({ executorId: claimer.executorId, from: instances, resumed }, `adopted ${resumed} workflows of ${instances.length} executors that are gone`);
    }
    if (requeued.size > 0) {
      const counts = Object.fromEntries(requeued);
      this.deps.logger.info({ executorId: claimer.executorId, requeued: counts }, `sent ${[...requeued.values()].reduce((a, b) => a + b)} adopted queue workflows back to their queues: this executor has no free worker slot for them`);
      // Whoever has room takes them, as after an enqueue.
      for (const queueName of requeued.keys()) this.deps.messaging.wake(queueWaitKey(queueName));
      this.queues.wake();
    }
    return resumed;
  }

  /** This instance lost its lease: its workflows are another executor's now. It goes on as a new instance. */
  private async fenced(): Promise<void> {
    const lost = this.lease.instanceId;
    let count = 0;
    for (const running of this.active.values()) {
      if (running.runBy === lost && !running.abandoned()) {
        running.abandon('fenced');
        count++;
      }
    }
    this.deps.logger.warn(
      { executorId: this.lease.executorId, instanceId: lost, workflows: count },
      `executor ${this.lease.executorId} was fenced: its lease lapsed and other executors adopted its workflows; it stops running ${count} of them`,
    );
    if (this.stateName !== 'running') return;
    await this.lease.renew().catch((error: unknown) => {
      if (error instanceof OperonExecutorIdTakenError && error.holder.pid === process.pid) {
        // Another runtime of this process took this executor id over: it is the executor now, and
        // this one runs nothing more (heartbeating on would only fence it again and again).
        this.lease.halt();
        this.deps.logger.warn({ executorId: this.lease.executorId }, `executor ${this.lease.executorId} was replaced by another runtime in this process; this one runs no workflows any more`);
        return;
      }
      this.deps.logger.error({ err: error }, 'could not register again after being fenced');
    });
  }

  private async resume(row: ClaimedRow, owner: string, records: ReadonlyMap<number, OperationRecord>): Promise<boolean> {
    // Taken up again after a failed adoption: one already running here goes on as it is. One this
    // process only waits for is run here now; its waiters get the result from the record.
    const here = this.active.get(row.workflowUUID);
    if (here && here.executing && !here.abandoned()) return false;
    if (!this.deps.versions.isCurrent(row.version)) return this.resumeOnVersion(row, row.version!, owner, records);
    const fn = this.deps.registry.byQualifiedName(row.workflowName);
    if (!fn) {
      this.notRegistered(row, owner);
      return false;
    }
    const run: ExecutionRun = { workflowUUID: row.workflowUUID, fn, kind: row.kind, identity: identityOf(row), request: requestOf(row), owner, epoch: row.ownerEpoch };
    const result = this.track(row.workflowUUID, { ...row, started: Promise.resolve(true) }, owner, (abandon, executing, abandoned) => {
      executing();
      return this.execute(run, row.inputs, records, abandon, abandoned);
    });
    if (row.queueName) this.queues.adopted({ queueName: row.queueName, workflowUUID: row.workflowUUID }, result);
    return true;
  }

  /**
   * Dies where it stands, as a killed process would (the testing runtime's crashAfter): every
   * execution is abandoned without running anything more, waits and heartbeats end, and nothing
   * is written, not even this executor's stopped state. The caller ends the sessions, so an
   * operation in flight does not commit; the next start resumes the workflows from their records.
   */
  crash(): void {
    if (this.stateName === 'stopped') return;
    this.stateName = 'stopped';
    this.crashed = true;
    this.lease.halt();
    this.deps.messaging.stop();
    for (const running of this.active.values()) running.abandon('stopped');
  }

  /**
   * Starts over with no workflow (the testing runtime's reset): every execution of this process
   * is abandoned (its code never resumes, its callers get a reset error, a transaction it has
   * under way never commits), its waits end, and the executor goes on as a new instance, so that
   * every write of the abandoned executions' is fenced in the database too. `clear` empties the
   * databases meanwhile, given the previous and next instance ids.
   */
  async reset(clear: (previousInstance: string, nextInstance: string) => Promise<void>): Promise<void> {
    this.generation++;
    this.services = this.servicesOfGeneration(this.generation);
    this.versionServices = new WeakMap();
    for (const running of [...this.active.values()]) running.abandon('reset');
    this.executions.clear();
    this.unrun.clear();
    this.interrupted.clear();
    // Their records would be fenced: neither a stop nor the virtual clock's helpers wait for them.
    this.inFlight.clear();
    this.deps.messaging.interruptWaits();
    this.queues.forgetWakeUps();
    const replacing = this.lease.replaceInstance(clear);
    const done = replacing.then(
      () => undefined,
      () => undefined,
    );
    this.resetting = done;
    try {
      await replacing;
    } finally {
      if (this.resetting === done) this.resetting = undefined;
    }
  }

  /**
   * Resumes a workflow that started on other code on that code: its version is loaded beside the
   * current one (once, for all its workflows here) and held until the workflow is done. One whose
   * version cannot be loaded stays PENDING, owned here, and is tried again at the next start.
   */
  private async resumeOnVersion(row: ClaimedRow, version: string, owner: string, records: ReadonlyMap<number, OperationRecord>): Promise<boolean> {
    const versions = this.deps.versions;
    let registry: FunctionRegistry;
    try {
      registry = await versions.acquire(version);
    } catch (error) {
      versions.release(version);
      if (error instanceof OperonVersionLoadError) return this.leave(row, owner, error);
      this.deps.logger.error(
        { err: error, workflowUUID: row.workflowUUID, version },
        `cannot recover workflow ${row.workflowUUID} on its version: ${(error as Error).message}; it stays PENDING`,
      );
      this.unrun.hold(row.workflowUUID, owner);
      return false;
    }
    const fn = registry.byQualifiedName(row.workflowName);
    if (!fn) {
      versions.release(version);
      this.notRegistered(row, owner);
      return false;
    }
    const run: ExecutionRun = { workflowUUID: row.workflowUUID, fn, kind: row.kind, identity: identityOf(row), request: requestOf(row), owner, epoch: row.ownerEpoch };
    const result = this.track(row.workflowUUID, { ...row, started: Promise.resolve(true) }, owner, (abandon, executing, abandoned) => {
      executing();
      return this.holding(version, this.execute(run, row.inputs, records, abandon, abandoned), abandoned);
    });
    if (row.queueName) this.queues.adopted({ queueName: row.queueName, workflowUUID: row.workflowUUID }, result);
    return true;
  }

  /**
   * A workflow whose version does not load here is not held here: it is handed over for an
   * executor that can load it, and this process claims no more of that version. One of a queue
   * goes back to its queue instead, as a dequeued one does: handed over PENDING it would hold its
   * queue's slot while it waits, for ever if no executor can load it. Only if this code dequeues it
   * (registers its workflow, declares its queue): a queue is dequeued only by executors whose code
   * registers the workflow, so one of other code would wait there for ever; handed over, it is
   * adopted by whoever can load its version.
   */
  private async leave(row: ClaimedRow, owner: string, error: OperonVersionLoadError): Promise<false> {
    if (row.queueName && this.queues.takesFromQueue(row.queueName, row.workflowName)) {
      await this.requeue({ ...row, queueName: row.queueName, owner }, error);
      // Its slot is free: the rest of its queue may start now, not at the next poll.
      this.queues.wake();
      return false;
    }
    const handedOver = await this.deps.systemDb.leaveWorkflow(row.workflowUUID, owner, hostname(), error.version).catch((failure: unknown) => {
      this.deps.logger.warn({ err: failure, workflowUUID: row.workflowUUID }, 'could not hand over a workflow whose version does not load here; it stays PENDING here');
      this.unrun.hold(row.workflowUUID, owner);
      return false;
    });
    if (!handedOver) return false;
    this.deps.metrics?.workflowLeft(error.version);
    this.deps.logger.error(
      { err: error, workflowUUID: row.workflowUUID, version: error.version, executorId: this.lease.executorId },
      `left workflow ${row.workflowUUID} for an executor that can load version ${error.version}: ${error.message}`,
    );
    return false;
  }

  /** A dequeued workflow whose version does not load here goes back to its queue, for an executor that can load it. */
  private async requeue(row: DequeuedRow, error: OperonVersionLoadError): Promise<void> {
    const requeued = await this.deps.systemDb.requeueWorkflow(row.workflowUUID, row.owner ?? '', this.deps.clock.now()).catch((failure: unknown) => {
      // Still owned here: adopted from this instance at the next start, or handed over then.
      this.deps.logger.warn({ err: failure, workflowUUID: row.workflowUUID }, 'could not put back in its queue a workflow whose version does not load here; it stays PENDING here');
      this.unrun.hold(row.workflowUUID, row.owner ?? '');
      return false;
    });
    if (!requeued) return;
    this.deps.metrics?.workflowLeft(error.version);
    this.deps.logger.error(
      { err: error, workflowUUID: row.workflowUUID, queue: row.queueName, version: error.version, executorId: this.lease.executorId },
      `left workflow ${row.workflowUUID} for an executor that can load version ${error.version}: ${error.message}`,
    );
  }

  /**
   * Holds a loaded version until its run ends or is abandoned, whichever comes first: an abandoned
   * run (fenced, stopped) never settles, and none of its code runs again.
   */
  private holding<T>(version: string, work: Promise<T>, abandoned: Promise<void>): Promise<T> {
    let held = true;
    const release = () => {
      if (!held) return;
      held = false;
      this.deps.versions.release(version);
    };
    void abandoned.then(release);
    return work.finally(release);
  }

  /** Claimed by `owner` and not run here: it stays PENDING, let go of if cancelled. */
  private notRegistered(row: WorkflowRow, owner: string): void {
    this.unrun.hold(row.workflowUUID, owner);
    this.deps.logger.error(
      { workflowUUID: row.workflowUUID, executorId: this.deps.executorId, version: row.version },
      `cannot recover workflow ${row.workflowUUID}: ${row.workflowName} is not registered in ${row.version === null ? 'this app' : `version ${row.version}`}; it stays PENDING`,
    );
  }

  /**
   * Stops starting workflows and waits up to `timeoutMs` for running ones. The rest are abandoned:
   * their code is never resumed (no error reaches it), and they resume at the next start.
   */
  async stop(timeoutMs: number): Promise<void> {
    if (this.stateName === 'stopped') return;
    this.stateName = 'stopping';
    this.queues.stop();
    // Waits end now: their workflows are abandoned at once instead of holding the stop.
    this.deps.messaging.stop();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.active.values()].map((running) => running.result)),
      new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs))),
    ]);
    clearTimeout(timer);
    this.stateName = 'stopped';
    if (this.active.size > 0) {
      this.deps.logger.info(
        { executorId: this.lease.executorId, workflows: this.active.size, graceMs: timeoutMs },
        `stopping: the grace of ${timeoutMs} ms is over; ${this.active.size} workflows still running are handed over to other executors`,
      );
    }
    for (const running of this.active.values()) running.abandon('stopped');
    // A communicator still calling out has a side effect its record must not lose (the next run
    // would call again): its record gets the same time again to be written before the pools close.
    if (this.inFlight.size > 0) {
      await Promise.race([
        Promise.allSettled([...this.inFlight]),
        new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs))),
      ]);
      clearTimeout(timer);
    }
    // Handed over: other executors adopt the rest at their next heartbeat.
    await this.lease.stop().catch((error: unknown) => this.deps.logger.warn({ err: error }, 'could not mark this executor stopped'));
    if (this.interrupted.size > 0) {
      await this.deps.systemDb.resetRecoveryAttempts([...this.interrupted]).catch((error: unknown) =>
        this.deps.logger.warn({ err: error }, 'could not reset the recovery attempts of the workflows the stop interrupted'),
      );
    }
  }
}
