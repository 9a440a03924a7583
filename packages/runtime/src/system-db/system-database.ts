/**
 * The one facade over every table Operon keeps: the system database's schema `operon` and the
 * transaction records in the app database. All of Operon's own SQL lives in this folder.
 */
import type pg from 'pg';
import { guardDatabase } from '../database/infrastructure-failure.js';
import { SQLSTATE, sqlState } from '../database/sqlstate.js';
import { StatementBatcher } from './statement-batcher.js';
import { migrateSchema } from './schema-migrator.js';
import { APP_DB_MIGRATIONS, SYSTEM_MIGRATIONS } from './migrations.generated.js';
import * as status from './workflow-status.js';
import * as operations from './operation-outputs.js';
import * as transactions from './transaction-outputs.js';
import { copyForkedTransactions } from './fork-copies.js';
import * as messages from './messages.js';
import * as events from './events.js';
import * as executors from './executors.js';
import * as schedules from './schedules.js';
import * as queues from './queues.js';
import * as retention from './retention.js';
import * as versions from './versions.js';
import * as queueDepths from './queue-depths.js';

export type { WorkflowRow, NewWorkflow, WorkflowIdentity, WorkflowKind, RecoveryPage, ClaimSource, ClaimedRow, WorkerLimit } from './workflow-status.js';
export type { ExecutorRow, ExecutorRegistration, HeartbeatResult } from './executors.js';
export type { OperationRecord, RecordsByWorkflow } from './operation-outputs.js';
export type { OutgoingMessage, OperationSite, ConsumeRequest } from './messages.js';
export type { EventReadRequest } from './events.js';
export type { ScheduleRow, DueTick } from './schedules.js';
export type { QueuePlacement, QueueLimits, QueueSummary, DequeuedRow } from './queues.js';
export type { StoredBundle, VersionRow } from './versions.js';

/** A record a statement wrote now (`stored`), or the one an earlier run wrote first. */
export interface WrittenRecord {
  readonly stored: boolean;
  readonly record: operations.OperationRecord;
}

export class SystemDatabase {
  constructor(
    readonly systemPool: pg.Pool,
    readonly appPool: pg.Pool,
    private readonly names: { system: string; app: string },
    /**
     * The heartbeat's own connection on the system database (a pool of one): a heartbeat never
     * waits for the main pool, which long system work or many workflows may hold whole, or the
     * lease lapses and a healthy executor is declared dead. Without it, the main pool's.
     */
    readonly heartbeatPool?: pg.Pool,
  ) {}

  /** Closes every pool (the heartbeat's too). */
  async endPools(): Promise<void> {
    await Promise.all([this.systemPool.end(), this.appPool.end(), this.heartbeatPool?.end()]);
  }

  /**
   * Brings both of Operon's schemas up to date, both databases at once; returns the versions
   * applied. A database that does not exist yet (3D000) is handed to `create`, then migrated: the
   * common case, both present, costs no extra connection.
   */
  async migrateEach(create: (database: string) => Promise<void>): Promise<{ system: number[]; app: number[] }> {
    const migrate = async (pool: pg.Pool, database: string, migrations: typeof SYSTEM_MIGRATIONS) => {
      try {
        return await migrateSchema(pool, database, migrations);
      } catch (error) {
        if (sqlState(error) !== SQLSTATE.INVALID_CATALOG_NAME) throw error;
        await create(database);
        return migrateSchema(pool, database, migrations);
      }
    };
    const [system, app] = await Promise.all([
      migrate(this.systemPool, this.names.system, SYSTEM_MIGRATIONS),
      migrate(this.appPool, this.names.app, APP_DB_MIGRATIONS),
    ]);
    return { system, app };
  }

  insertWorkflow(wf: status.NewWorkflow): Promise<boolean> {
    return guardDatabase(status.insertWorkflow(this.systemPool, wf));
  }

  /** Records a new ENQUEUED workflow; false when the UUID exists. A held deduplication id is refused. */
  enqueueWorkflow(wf: status.NewWorkflow, placement: queues.QueuePlacement, now: number): Promise<boolean> {
    // Marks its own database failures; a held deduplication id is the caller's error.
    return queues.enqueueWorkflow(this.systemPool, wf, placement, now);
  }

  /**
   * Takes what the limits allow from each queue, in one round trip (see queues.ts). A workflow
   * that ran before (resumed onto its queue: its epoch moved on) has its transactions fenced to
   * the taker first, as an adoption does; a first run needs no fence.
   */
  async dequeue(
    claimer: { owner: string; executorId: string },
    limits: readonly queues.QueueLimits[],
    now: number,
    batch: number,
    workflows: readonly string[],
    skipVersions: readonly string[] = [],
  ): Promise<queues.DequeuedRow[]> {
    const rows = await guardDatabase(queues.dequeue(this.systemPool, claimer, limits, now, batch, workflows, skipVersions));
    return this.fencedForTaker(claimer.owner, rows);
  }

  /** Puts a workflow a dequeue of `owner` took back in its queue (see queues.ts). */
  requeueWorkflow(workflowUUID: string, owner: string, now: number): Promise<boolean> {
    return guardDatabase(queues.requeueWorkflow(this.systemPool, workflowUUID, owner, now));
  }

  /** What a dequeue of `owner` sent at `at` took and still holds, fenced as a dequeue's rows are: for a dequeue whose answer was lost. */
  async takenBy(owner: string, at: number, queueNames: readonly string[]): Promise<queues.DequeuedRow[]> {
    return this.fencedForTaker(owner, await guardDatabase(queues.takenBy(this.systemPool, owner, at, queueNames)));
  }

  private async fencedForTaker(owner: string, rows: queues.DequeuedRow[]): Promise<queues.DequeuedRow[]> {
    const resumed = rows.filter((row) => row.ownerEpoch > 0).map((row) => ({ workflowUUID: row.workflowUUID, epoch: row.ownerEpoch }));
    if (resumed.length > 0) await guardDatabase(transactions.fenceTransactions(this.appPool, owner, resumed));
    return rows;
  }

  registerQueues(limits: readonly queues.QueueLimits[], now: number): Promise<void> {
    return guardDatabase(queues.registerQueues(this.systemPool, limits, now));
  }

  listQueues(): Promise<queues.QueueSummary[]> {
    return guardDatabase(queues.listQueues(this.systemPool));
  }

  /** True when both databases answer a trivial query. */
  async ping(): Promise<boolean> {
    try {
      await Promise.all([this.systemPool.query('SELECT 1'), this.appPool.query('SELECT 1')]);
      return true;
    } catch {
      return false;
    }
  }

  /** Workflow ends of concurrent workflows share one statement and one commit. */
  private readonly workflowEnds = new StatementBatcher<status.WorkflowEnd, boolean>((ends) => status.recordWorkflowEnds(this.systemPool, ends));

  /** Ends a PENDING workflow with its output (SUCCESS) or error (ERROR); a finished one is never rewritten. */
  /** False when the workflow was not ended by this call: it is not PENDING, or its writer no longer owns it. */
  recordWorkflowEnd(end: status.WorkflowEnd): Promise<boolean> {
    return guardDatabase(this.workflowEnds.add(end));
  }

  getWorkflow(workflowUUID: string): Promise<status.WorkflowRow | undefined> {
    return guardDatabase(status.getWorkflow(this.systemPool, workflowUUID));
  }

  /**
   * Takes over a page of PENDING workflows of `from` (see claimWorkflows), then fences their
   * transactions in the app database, so that no transaction of their previous owner commits
   * once the claimer runs them. Those sent back to their queue are fenced too (to the claimer, at
   * one epoch below their row's: their taker's fence, at the row's epoch, supersedes it), since
   * their previous owner may be a paused process that wakes up. A fork among them gets its
   * original's transaction outputs copied before it runs.
   */
  async claimWorkflows(
    claimer: { readonly owner: string; readonly executorId: string },
    from: status.ClaimSource,
    afterUUID: string,
    limit: number,
    maxAttempts: number,
    workerLimits: readonly status.WorkerLimit[] = [],
  ): Promise<status.RecoveryPage> {
    const page = await guardDatabase(status.claimWorkflows(this.systemPool, claimer, from, afterUUID, limit, maxAttempts, workerLimits));
    const claimed = [
      ...page.resumable.map((row) => ({ workflowUUID: row.workflowUUID, epoch: row.ownerEpoch })),
      ...page.requeued.map((row) => ({ workflowUUID: row.workflowUUID, epoch: row.ownerEpoch - 1 })),
    ];
    if (claimed.length > 0) await guardDatabase(transactions.fenceTransactions(this.appPool, claimer.owner, claimed));
    // Behind the fence: no run of an earlier owner can commit beside the copy.
    if (page.forkCopies.length > 0) await guardDatabase(copyForkedTransactions(this.systemPool, this.appPool, claimer.owner, page.forkCopies));
    return page;
  }

  registerExecutor(registration: executors.ExecutorRegistration): Promise<{ holder?: executors.ExecutorRow }> {
    return guardDatabase(executors.registerExecutor(this.systemPool, registration));
  }

  heartbeat(instanceId: string, gone: readonly string[], loadedVersions: readonly string[] = []): Promise<executors.HeartbeatResult> {
    return guardDatabase(executors.heartbeat(this.heartbeatPool ?? this.systemPool, instanceId, gone, loadedVersions));
  }

  storeVersion(bundle: versions.StoredBundle): Promise<void> {
    return guardDatabase(versions.storeVersion(this.systemPool, bundle));
  }

  loadVersion(version: string): Promise<versions.StoredBundle | undefined> {
    return guardDatabase(versions.loadVersion(this.systemPool, version));
  }

  listVersions(): Promise<versions.VersionRow[]> {
    return guardDatabase(versions.listVersions(this.systemPool));
  }

  leaveWorkflow(workflowUUID: string, owner: string, host: string, version: string): Promise<boolean> {
    return guardDatabase(versions.leaveWorkflow(this.systemPool, workflowUUID, owner, host, version));
  }

  openWorkflows(afterUUID: string, limit: number): Promise<status.WorkflowRow[]> {
    return guardDatabase(versions.openWorkflows(this.systemPool, afterUUID, limit));
  }

  latestVersion(): Promise<string | undefined> {
    return guardDatabase(versions.latestVersion(this.systemPool));
  }

  versionExists(version: string): Promise<boolean> {
    return guardDatabase(versions.versionExists(this.systemPool, version));
  }

  liveInstancesOnHost(hostKey: string, self: string): Promise<executors.ExecutorRow[]> {
    return guardDatabase(executors.liveInstancesOnHost(this.systemPool, hostKey, self));
  }

  setExecutorState(instanceIds: readonly string[], state: 'stopped' | 'dead'): Promise<void> {
    return guardDatabase(executors.setExecutorState(this.systemPool, instanceIds, state));
  }

  pruneExecutors(): Promise<void> {
    return guardDatabase(executors.pruneExecutors(this.systemPool));
  }

  /** Deletes, of the next `limit` workflows after `afterUUID`, those that ended before `beforeMs` (system database only). */
  deleteEndedWorkflows(beforeMs: number, afterUUID: string, limit: number): Promise<retention.RetentionBatch> {
    return guardDatabase(retention.deleteEndedWorkflows(this.systemPool, beforeMs, afterUUID, limit));
  }

  /** Deleted workflows whose app-database records are still to delete. */
  retentionLeftovers(limit: number): Promise<{ workflowUUID: string; reused: boolean }[]> {
    return guardDatabase(retention.retentionLeftovers(this.systemPool, limit));
  }

  forgetRetentionLeftovers(workflowUUIDs: readonly string[]): Promise<void> {
    return guardDatabase(retention.forgetRetentionLeftovers(this.systemPool, workflowUUIDs));
  }

  /** Deletes the app database's transaction records of deleted workflows. */
  deleteTransactionRecords(workflowUUIDs: readonly string[]): Promise<void> {
    return guardDatabase(retention.deleteTransactionRecords(this.appPool, workflowUUIDs));
  }

  /** Each queue's ENQUEUED and PENDING counts. */
  queueDepths(): Promise<queueDepths.QueueDepth[]> {
    return guardDatabase(queueDepths.queueDepths(this.systemPool));
  }

  listExecutors(): Promise<executors.ExecutorRow[]> {
    return guardDatabase(executors.listExecutors(this.systemPool));
  }

  registerSchedules(names: readonly string[], now: number): Promise<{ rows: schedules.ScheduleRow[]; databaseNowMs: number }> {
    return guardDatabase(schedules.registerSchedules(this.systemPool, names, now));
  }

  listSchedules(): Promise<schedules.ScheduleRow[]> {
    return guardDatabase(schedules.listSchedules(this.systemPool));
  }

  /** Inserts the runs of due ticks no executor inserted yet; the UUIDs this owner is to run. */
  startDueTicks(
    owner: { readonly instanceId: string; readonly executorId: string },
    ticks: readonly schedules.DueTick[],
    now: number,
    alsoOwned: readonly string[] = [],
  ): Promise<{ mine: string[]; databaseNowMs: number }> {
    return guardDatabase(schedules.startDueTicks(this.systemPool, owner, ticks, now, alsoOwned));
  }

  readDatabaseClock(): Promise<{ databaseNowMs: number }> {
    return guardDatabase(executors.readDatabaseClock(this.systemPool));
  }

  countRecoveryAttempts(workflowUUIDs: readonly string[]): Promise<void> {
    return guardDatabase(status.countRecoveryAttempts(this.systemPool, workflowUUIDs));
  }

  resetRecoveryAttempts(workflowUUIDs: readonly string[]): Promise<void> {
    return guardDatabase(status.resetRecoveryAttempts(this.systemPool, workflowUUIDs));
  }

  /** Records an operation of a workflow `owner` owns (fenced); gives the record that stands. */
  recordOperation(site: operations.RecordSite, record: operations.OperationRecord): Promise<operations.RecordedOperation> {
    return guardDatabase(operations.recordOperation(this.systemPool, site, record));
  }

  /** Inserts a transaction's output and commits the transaction, in one round trip; true when a cancel marked the workflow. */
  insertTransactionOutputAndCommit(
    client: pg.ClientBase,
    owner: { readonly instance: string; readonly epoch: number },
    workflowUUID: string,
    functionID: number,
    functionName: string,
    output: string | null,
    startedAt: number,
  ): Promise<boolean> {
    return guardDatabase(transactions.insertTransactionOutputAndCommit(client, owner, workflowUUID, functionID, functionName, output, startedAt));
  }

  /**
   * Whether the workflow is CANCELLED, read under a share lock on its row: a cancel still
   * committing (it marked the app database first, under the row's lock) is waited for.
   */
  confirmCancelled(workflowUUID: string): Promise<boolean> {
    return guardDatabase(status.confirmCancelled(this.systemPool, workflowUUID));
  }

  /** Every record of these workflows from both databases: two parallel queries however many workflows. */
  async loadRecords(workflowUUIDs: readonly string[]): Promise<operations.RecordsByWorkflow> {
    const committed: operations.RecordsByWorkflow = new Map();
    const [records] = await guardDatabase(
      Promise.all([
        operations.loadOperationRecords(this.systemPool, workflowUUIDs),
        transactions.loadTransactionOutputs(this.appPool, workflowUUIDs, committed),
      ]),
    );
    for (const [uuid, byId] of committed) {
      let target = records.get(uuid);
      if (!target) records.set(uuid, (target = new Map()));
      for (const [id, record] of byId) target.set(id, record);
    }
    return records;
  }

  /** Sends without a key from concurrent callers share one statement and one commit. */
  private readonly plainSends = new StatementBatcher<messages.OutgoingMessage>((batch) => messages.sendMessages(this.systemPool, batch));

  /** True when a message was stored (a keyed send whose key was used before stores nothing). */
  async sendMessage(message: messages.OutgoingMessage, idempotencyKey: string | undefined): Promise<boolean> {
    if (idempotencyKey === undefined) {
      await guardDatabase(this.plainSends.add(message));
      return true;
    }
    return guardDatabase(messages.sendMessage(this.systemPool, message, idempotencyKey));
  }

  /** A workflow's send: its record and the message in one statement; `stored` is false when a record was there already. */
  sendMessageFromWorkflow(site: messages.OperationSite, message: messages.OutgoingMessage): Promise<WrittenRecord> {
    return this.writtenOrExisting(site, () => messages.sendMessageFromWorkflow(this.systemPool, site, message));
  }

  /** Runs a statement that writes `site`'s record (null output) unless one exists; gives the record that stands. */
  private async writtenOrExisting(site: messages.OperationSite, statement: () => Promise<boolean>): Promise<WrittenRecord> {
    const stored = await guardDatabase(statement());
    if (stored) return { stored, record: { functionName: site.functionName, output: null, error: null } };
    // A send's or setEvent's record lives in the system database: one lookup there, not both databases.
    const existing = await guardDatabase(operations.loadOperationRecord(this.systemPool, site.workflowUUID, site.functionID));
    if (!existing) throw new Error(`the record of operation ${site.functionID} of workflow ${site.workflowUUID} vanished`);
    return { stored, record: existing };
  }

  consumeMessage(request: messages.ConsumeRequest): Promise<operations.OperationRecord | undefined> {
    return guardDatabase(messages.consumeMessage(this.systemPool, request));
  }

  destinationsWithMessages(destinationUUIDs: readonly string[]): Promise<string[]> {
    return guardDatabase(messages.destinationsWithMessages(this.systemPool, destinationUUIDs));
  }

  /** A workflow's setEvent: its record and the upsert in one statement; `stored` is false when a record was there already. */
  setEventFromWorkflow(site: messages.OperationSite, key: string, value: string): Promise<WrittenRecord> {
    return this.writtenOrExisting(site, () => events.setEventFromWorkflow(this.systemPool, site, key, value));
  }

  getEventValue(workflowUUID: string, key: string): Promise<string | undefined> {
    return guardDatabase(events.getEventValue(this.systemPool, workflowUUID, key));
  }

  readEventIntoRecord(request: events.EventReadRequest): Promise<operations.OperationRecord | undefined> {
    return guardDatabase(events.readEventIntoRecord(this.systemPool, request));
  }

  eventsThatAreSet(pairs: readonly (readonly [string, string])[]): Promise<string[]> {
    return guardDatabase(events.eventsThatAreSet(this.systemPool, pairs));
  }

  cancelledAmong(workflowUUIDs: readonly string[]): Promise<string[]> {
    return guardDatabase(status.cancelledAmong(this.systemPool, workflowUUIDs));
  }

  /** A cancelled run lets go of its workflow: a resume may give it to a new run now. */
  releaseCancelled(workflowUUID: string, owner: string): Promise<boolean> {
    return guardDatabase(status.releaseCancelled(this.systemPool, workflowUUID, owner));
  }
}
