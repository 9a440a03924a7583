/**
 * The waiting and waking behind messages, events and durable sleep. A wait registers in the
 * process's wait registry. A send or setEvent that committed wakes its waiters in this process at
 * once and notifies other processes (notification-sender.ts), whose LISTEN connection wakes
 * theirs; a jittered slow poll (two queries for all waiters together) catches a notification that
 * was missed. Stopping rejects every wait with a shutdown error marked as the runtime's own, so
 * the waiting step abandons its workflow, which stays PENDING and resumes at the next start.
 *
 * The workflow side (each send, recv, setEvent, getEvent and sleep a durable step) is in
 * steps/messaging-steps.ts; sends and event reads from outside any workflow are here.
 */
import type pg from 'pg';
import type { Logger } from 'pino';
import { OperonShutdownError } from '@operon/sdk';
import { markInfrastructure } from '../database/infrastructure-failure.js';
import { cancelledWorkflowOf, eventWaitKey, messageWaitKey, queueOfPayload, waitKeyOf, waitTargetOf } from '../system-db/notification-channel.js';
import type { SystemDatabase } from '../system-db/system-database.js';
import { checkEventKey, checkIdempotencyKey, checkSeconds, checkTopic, checkUUID, serializeValue } from './messaging-arguments.js';
import { NotificationListener } from './notification-listener.js';
import { NotificationSender } from './notification-sender.js';
import { StatementBatcher } from '../system-db/statement-batcher.js';
import { deserialize } from './serialization.js';
import { WaitRegistry } from './wait-registry.js';
import type { WorkflowClock } from './workflow-clock.js';

export interface MessagingDeps {
  readonly systemDb: SystemDatabase;
  readonly logger: Logger;
  /** A new, unconnected client on the system database, for the LISTEN connection. */
  readonly listenerClient: () => pg.Client;
  /** A new, unconnected client on the system database for sending notifications (synchronous_commit off). */
  readonly notifierClient: () => pg.Client;
  /**
   * 'listen': other processes' sends and setEvents arrive by LISTEN/NOTIFY, and a slow poll is the
   * safety net. 'poll': no LISTEN connection and no NOTIFY (a pooler cannot carry them); the poll,
   * every `pollIntervalMs`, is how waits hear of other processes' sends.
   * @default 'listen'
   */
  readonly notifications?: 'listen' | 'poll';
  /**
   * The mean interval of the poll; each interval is jittered by ±25%.
   * @default 2000
   */
  readonly pollIntervalMs?: number;
  /** The workflow clock: deadlines are read and waited for by it. */
  readonly clock: WorkflowClock;
}

const DEFAULT_POLL_INTERVAL_MS = 2_000;
const DEFAULT_TIMEOUT_SECONDS = 60;

export class WorkflowMessaging {
  private readonly waiters: WaitRegistry;
  private readonly listener: NotificationListener;
  private readonly notifier: NotificationSender;
  /** Whether a wait key's inbox holds a message, for many keys in one query. */
  private readonly inboxLookups = new StatementBatcher<string, boolean>(async (keys) => {
    const destinations = [...new Set(keys.map((key) => (waitTargetOf(key) as { destinationUUID: string }).destinationUUID))];
    const withMessages = new Set(await this.deps.systemDb.destinationsWithMessages(destinations));
    return keys.map((key) => withMessages.has(key));
  });
  private readonly pollIntervalMs: number;
  private pollTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Told of each enqueue another process notified. */
  private queueListener: ((queue: string) => void) | undefined;
  private closing: Promise<void> | undefined;
  /** Told of each workflow a cancel named, in any process (the executor stops running it here). */
  onCancelled: (workflowUUID: string) => void = () => undefined;
  /** The workflows running here: polling, a cancel is found by looking at them. */
  runningWorkflows: () => readonly string[] = () => [];

  constructor(private readonly deps: MessagingDeps) {
    this.pollIntervalMs = deps.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
    this.waiters = new WaitRegistry(deps.clock);
    this.listener = new NotificationListener({
      connect: deps.listenerClient,
      logger: deps.logger,
      onNotification: (payload) => {
        const queue = queueOfPayload(payload);
        if (queue !== undefined) return this.queueListener?.(queue);
        const key = waitKeyOf(payload);
        if (key !== undefined) return this.waiters.signal(key);
        const cancelled = cancelledWorkflowOf(payload);
        if (cancelled !== undefined) this.onCancelled(cancelled);
      },
      // Whatever was sent while nobody listened is in the tables: one poll finds it for every waiter.
      // A cancel notified meanwhile was missed too: the statuses of the workflows running here tell.
      onReconnect: () => void this.poll(true),
    });
    this.notifier = new NotificationSender({
      connect: deps.notifierClient,
      logger: deps.logger,
      signalLocal: (key) => this.waiters.signal(key),
      notifyOthers: deps.notifications !== 'poll',
    });
  }

  private now(): number {
    return this.deps.clock.now();
  }

  /** Hears of every enqueue notified by any process (the queue's name). */
  onEnqueue(listener: (queue: string) => void): void {
    this.queueListener = listener;
  }

  /** How many waits are in progress in this process. */
  get waitingCount(): number {
    return this.waiters.size;
  }

  /** Opens the LISTEN connection (unless polling) and starts the poll. */
  async start(): Promise<void> {
    if (this.deps.notifications !== 'poll') await this.listener.start();
    this.schedulePoll();
  }

  /** Rejects every wait (now and later) with a shutdown error and starts closing the listener. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.pollTimer);
    this.waiters.close(() =>
      markInfrastructure(
        new OperonShutdownError('the runtime is shutting down: this wait was interrupted, and its workflow resumes at the next start'),
      ) as Error,
    );
    this.closing = Promise.all([this.listener.stop(), this.notifier.stop()]).then(() => undefined);
  }

  /**
   * Ends every wait in progress (the testing runtime's reset), as a shutdown would, while the
   * messaging serves on: the workflows that waited were abandoned, and none of them may consume
   * a message or read an event meant for the workflows that come after.
   */
  interruptWaits(): void {
    this.waiters.interruptAll(() => markInfrastructure(new OperonShutdownError('the testing runtime was reset: this wait was interrupted, and its workflow never resumes')) as Error);
  }

  /** Stops, and resolves once the listener connection is closed. */
  async close(): Promise<void> {
    this.stop();
    await this.closing;
  }

  /**
   * Sends from outside any workflow. With an idempotency key, only the first send of that key
   * delivers (the key is global, whatever the destination or message of a later send).
   */
  async send(destinationUUID: string, message: unknown, topic?: string, idempotencyKey?: string): Promise<void> {
    const destination = checkUUID('send', 'destinationUUID', destinationUUID);
    const topicName = checkTopic('send', topic);
    const key = checkIdempotencyKey(idempotencyKey);
    const text = serializeValue(message, `the message to ${destination}`, 'message');
    if (await this.deps.systemDb.sendMessage({ destinationUUID: destination, topic: topicName, message: text }, key)) {
      this.notifier.wake(messageWaitKey(destination, topicName));
    }
  }

  /** Waits up to `timeoutSeconds` for event `key` of a workflow; its latest value, or null. */
  async getEvent<V>(workflowUUID: string, key: string, timeoutSeconds: number = DEFAULT_TIMEOUT_SECONDS): Promise<V | null> {
    const uuid = checkUUID('getEvent', 'workflowUUID', workflowUUID);
    const eventKey = checkEventKey('getEvent', key);
    const deadlineMs = this.now() + checkSeconds('getEvent', 'timeoutSeconds', timeoutSeconds);
    const text = await this.waitFor(eventWaitKey(uuid, eventKey), deadlineMs, async (final) => {
      const value = await this.deps.systemDb.getEventValue(uuid, eventKey);
      return value ?? (final ? 'null' : undefined);
    });
    return deserialize<V | null>(text);
  }

  /** Wakes the waiters of `key` here at once and in other processes by notification. */
  wake(key: string): void {
    this.notifier.wake(key);
  }

  /** Whether the inbox behind a message wait key holds a message; concurrent asks share one query. */
  hasMessage(key: string): Promise<boolean> {
    return this.inboxLookups.add(key);
  }

  /**
   * Calls `attempt` until it returns something: at once, then whenever `key` is signalled, and a
   * last time (with `final` true, when it must return something) once `deadlineMs` has passed.
   * The wait is registered before the first attempt, so a signal during an attempt is not lost.
   */
  async waitFor<T>(
    key: string | undefined,
    deadlineMs: number,
    attempt: (final: boolean) => Promise<T | undefined>,
    worthAttempting?: () => Promise<boolean>,
  ): Promise<T> {
    const waiter = this.waiters.watch(key);
    try {
      // Registered first, so whatever arrives after this look still wakes the wait.
      if (worthAttempting && this.now() < deadlineMs && !(await worthAttempting())) await waiter.wait(deadlineMs);
      for (;;) {
        const final = this.now() >= deadlineMs;
        const found = await attempt(final);
        if (found !== undefined) return found;
        await waiter.wait(deadlineMs);
      }
    } finally {
      waiter.dispose();
    }
  }

  private schedulePoll(): void {
    if (this.stopped) return;
    const delay = this.pollIntervalMs * (0.75 + Math.random() * 0.5);
    this.pollTimer = setTimeout(() => void this.poll().finally(() => this.schedulePoll()), delay);
    // The poll serves waits; it must not be what keeps a finished process alive.
    this.pollTimer.unref();
  }

  /** The safety net: two queries find every waited-for message and event that is there, and wake their waiters. */
  private async poll(afterReconnect = false): Promise<void> {
    if (this.stopped) return;
    const destinations = new Set<string>();
    const events: [string, string][] = [];
    for (const key of this.waiters.keys()) {
      const target = waitTargetOf(key);
      if (target.kind === 'message') destinations.add(target.destinationUUID);
      else events.push([target.workflowUUID, target.key]);
    }
    // Without LISTEN a cancel's notification is never heard: its status is looked at instead.
    const running = this.deps.notifications === 'poll' || afterReconnect ? this.runningWorkflows() : [];
    if (destinations.size === 0 && events.length === 0 && running.length === 0) return;
    try {
      const [messageKeys, eventKeys, cancelled] = await Promise.all([
        destinations.size ? this.deps.systemDb.destinationsWithMessages([...destinations]) : [],
        events.length ? this.deps.systemDb.eventsThatAreSet(events) : [],
        running.length ? this.deps.systemDb.cancelledAmong(running) : [],
      ]);
      for (const key of messageKeys) this.waiters.signal(key);
      for (const key of eventKeys) this.waiters.signal(key);
      for (const uuid of cancelled) this.onCancelled(uuid);
    } catch (error) {
      this.deps.logger.warn({ err: error }, 'the messaging safety-net poll failed; waits rely on notifications until the next poll');
    }
  }
}
