/**
 * Messages, events and durable sleep inside a workflow, each a durable step. Arguments are
 * checked and values serialized before any id is taken, so a bad call fails at once, stores
 * nothing and takes no id (and fails the same way on a re-run).
 *
 *   send      1 id   `operon.send`      the record and the message are written by one statement
 *   recv      2 ids  `operon.recv.deadline` (its deadline, epoch ms), then `operon.recv` (the message)
 *   setEvent  1 id   `operon.setEvent`  the record and the upsert are one statement
 *   getEvent  2 ids  `operon.getEvent.deadline`, then `operon.getEvent` (the value read)
 *   sleep     1 id   `operon.sleep`     (its deadline, epoch ms)
 *
 * Both ids of a recv or getEvent are taken at call time; the deadline is written by the first
 * attempt of the statement that consumes or reads, at the id before the operation's own.
 */
import { eventWaitKey, messageWaitKey } from '../../system-db/notification-channel.js';
import { checkEventKey, checkSeconds, checkTopic, checkUUID, serializeValue } from '../messaging-arguments.js';
import { deserialize } from '../serialization.js';
import type { WorkflowExecution } from '../workflow-execution.js';

/** The function names under which these operations are recorded. */
export const MESSAGING_OPERATIONS = Object.freeze({
  send: 'operon.send',
  recvDeadline: 'operon.recv.deadline',
  recv: 'operon.recv',
  setEvent: 'operon.setEvent',
  getEventDeadline: 'operon.getEvent.deadline',
  getEvent: 'operon.getEvent',
  sleep: 'operon.sleep',
});

/** Runs `body` now, turning a synchronous throw (a bad argument) into a rejected promise. */
function call<T>(body: () => Promise<T>): Promise<T> {
  try {
    return body();
  } catch (error) {
    return Promise.reject(error);
  }
}

export function sendStep(execution: WorkflowExecution, destinationUUID: unknown, message: unknown, topic: unknown): Promise<void> {
  return call(() => {
    const destination = checkUUID('send', 'destinationUUID', destinationUUID);
    const topicName = checkTopic('send', topic);
    const text = serializeValue(message, `the message to ${destination}`, 'message');
    const { systemDb, messaging } = execution.services;
    const functionID = execution.takeIds(1);
    return execution.step<void>(functionID, MESSAGING_OPERATIONS.send, async (site) => {
      const { record, stored } = await systemDb.sendMessageFromWorkflow(site, { destinationUUID: destination, topic: topicName, message: text });
      if (stored) messaging.wake(messageWaitKey(destination, topicName));
      return record;
    });
  });
}

export function setEventStep(execution: WorkflowExecution, key: unknown, value: unknown): Promise<void> {
  return call(() => {
    const eventKey = checkEventKey('setEvent', key);
    const text = serializeValue(value, `the value of event "${eventKey}"`, 'value');
    const { systemDb, messaging } = execution.services;
    const functionID = execution.takeIds(1);
    return execution.step<void>(functionID, MESSAGING_OPERATIONS.setEvent, async (site) => {
      const { record, stored } = await systemDb.setEventFromWorkflow(site, eventKey, text);
      if (stored) messaging.wake(eventWaitKey(execution.workflowUUID, eventKey));
      return record;
    });
  });
}

/**
 * The deadline of a waiting operation: the recorded one, else the one this run chose (kept
 * across attempts, so a retry after a database failure does not extend the wait).
 */
class Deadline {
  private chosen: number | undefined;
  constructor(
    private readonly execution: WorkflowExecution,
    private readonly functionID: number,
    private readonly functionName: string,
    private readonly timeoutMs: number,
  ) {}

  /** The deadline in epoch ms, and whether it still has to be recorded. */
  current(): { epochMs: number; unrecorded: boolean } {
    const record = this.execution.recorded(this.functionID, this.functionName);
    if (record) return { epochMs: deserialize<number>(record.output), unrecorded: false };
    this.chosen ??= this.execution.services.clock.now() + this.timeoutMs;
    return { epochMs: this.chosen, unrecorded: true };
  }
}

export function recvStep<M>(execution: WorkflowExecution, topic: unknown, timeoutSeconds: unknown): Promise<M | null> {
  return call(() => {
    const topicName = checkTopic('recv', topic);
    const timeoutMs = checkSeconds('recv', 'timeoutSeconds', timeoutSeconds);
    const { systemDb, messaging } = execution.services;
    const deadlineID = execution.takeIds(2);
    const deadline = new Deadline(execution, deadlineID, MESSAGING_OPERATIONS.recvDeadline, timeoutMs);
    const key = messageWaitKey(execution.workflowUUID, topicName);
    return execution.step<M | null>(
      deadlineID + 1,
      MESSAGING_OPERATIONS.recv,
      async (site) => {
        execution.madeProgress();
        const { epochMs, unrecorded } = deadline.current();
        let toRecord = unrecorded ? { functionName: MESSAGING_OPERATIONS.recvDeadline, epochMs } : undefined;
        return messaging.waitFor(
          key,
          epochMs,
          async (final) => {
            const consumed = await systemDb.consumeMessage({ site, topic: topicName, deadline: toRecord, final });
            toRecord = undefined;
            return consumed;
          },
          // A re-run (its deadline recorded) has nothing to record before waiting: one shared look
          // for all the recovered receivers tells which inboxes are worth a consuming statement.
          unrecorded ? undefined : () => messaging.hasMessage(key),
        );
      },
      { functionID: deadlineID, functionName: MESSAGING_OPERATIONS.recvDeadline },
      true,
    );
  });
}

export function getEventStep<V>(execution: WorkflowExecution, workflowUUID: unknown, key: unknown, timeoutSeconds: unknown): Promise<V | null> {
  return call(() => {
    const uuid = checkUUID('getEvent', 'workflowUUID', workflowUUID);
    const eventKey = checkEventKey('getEvent', key);
    const timeoutMs = checkSeconds('getEvent', 'timeoutSeconds', timeoutSeconds);
    const { systemDb, messaging } = execution.services;
    const deadlineID = execution.takeIds(2);
    const deadline = new Deadline(execution, deadlineID, MESSAGING_OPERATIONS.getEventDeadline, timeoutMs);
    return execution.step<V | null>(
      deadlineID + 1,
      MESSAGING_OPERATIONS.getEvent,
      async (site) => {
        execution.madeProgress();
        const { epochMs, unrecorded } = deadline.current();
        let toRecord = unrecorded ? { functionName: MESSAGING_OPERATIONS.getEventDeadline, epochMs } : undefined;
        return messaging.waitFor(eventWaitKey(uuid, eventKey), epochMs, async (final) => {
          const read = await systemDb.readEventIntoRecord({ site, workflowUUID: uuid, key: eventKey, deadline: toRecord, final });
          toRecord = undefined;
          return read;
        });
      },
      { functionID: deadlineID, functionName: MESSAGING_OPERATIONS.getEventDeadline },
      true,
    );
  });
}

export function sleepStep(execution: WorkflowExecution, seconds: unknown): Promise<void> {
  return call(async () => {
    const durationMs = checkSeconds('sleep', 'seconds', seconds);
    const functionID = execution.takeIds(1);
    const deadlineMs = await execution.step<number>(
      functionID,
      MESSAGING_OPERATIONS.sleep,
      (site) => execution.persist(site, { output: JSON.stringify(execution.services.clock.now() + durationMs) }),
      undefined,
      true,
    );
    if (!execution.policy.waits) return;
    execution.madeProgress();
    const { messaging } = execution.services;
    await execution.durably(() => messaging.waitFor(undefined, deadlineMs, async (final) => (final ? true : undefined)));
  });
}
