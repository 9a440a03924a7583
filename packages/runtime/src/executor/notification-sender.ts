/**
 * Wakes waiters after a send or setEvent has committed. Waiters in this process are signalled at
 * once; other processes hear of it through pg_notify, sent in batches on a connection of its own
 * with synchronous_commit off. A notification is only a hint (the message or event is already
 * durable, and the slow poll finds what a lost hint would have said), so it need not wait for a
 * disk flush, and keeping it out of the writing statement lets those commits be flushed together:
 * Postgres serializes the commits of notifying transactions until they are on disk.
 */
import type pg from 'pg';
import type { Logger } from 'pino';
import { notifyStatement } from '../system-db/notification-channel.js';

export interface NotificationSenderOptions {
  /** A new, unconnected client on the system database, whose sessions may skip the commit flush. */
  readonly connect: () => pg.Client;
  readonly logger: Logger;
  /** Wakes this process's waiters under `key`. */
  readonly signalLocal: (key: string) => void;
  /** False when other processes poll instead of listening: then nothing is sent. @default true */
  readonly notifyOthers?: boolean;
}

/** At most this many payloads go in one statement. */
const BATCH = 500;

export class NotificationSender {
  private readonly queue: string[] = [];
  private client: Promise<pg.Client> | undefined;
  private flushing: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly options: NotificationSenderOptions) {}

  /** Signals local waiters of `key` now, and other processes' soon after. */
  wake(key: string): void {
    this.options.signalLocal(key);
    if (this.stopped || this.options.notifyOthers === false) return;
    this.queue.push(key);
    this.flushing ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.flush());
  }

  private async flush(): Promise<void> {
    try {
      while (this.queue.length > 0 && !this.stopped) {
        const batch = this.queue.splice(0, BATCH);
        await (await this.connection()).query(notifyStatement(), [batch]);
      }
    } catch (error) {
      // The hint is lost, not the message: other processes' polls will find it. Reconnect next time.
      this.options.logger.debug({ err: error }, 'could not send notifications; waiters elsewhere rely on their poll');
      this.queue.length = 0;
      const broken = this.client;
      this.client = undefined;
      void broken?.then((client) => client.end()).catch(() => undefined);
    } finally {
      this.flushing = undefined;
    }
  }

  private connection(): Promise<pg.Client> {
    this.client ??= (async () => {
      const client = this.options.connect();
      client.on('error', () => undefined);
      await client.connect();
      return client;
    })();
    return this.client;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.flushing;
    const client = this.client;
    this.client = undefined;
    await client?.then((c) => c.end()).catch(() => undefined);
  }
}
