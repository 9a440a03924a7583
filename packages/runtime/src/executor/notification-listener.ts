/**
 * The process's one LISTEN connection: a pg.Client of its own, outside the pool, so that a pool
 * under load never delays a wake-up and waiters never hold pool connections. If the connection
 * dies (server restart, pg_terminate_backend, network), it is re-opened with backoff, and the
 * owner is told so it can look for what was sent while nobody listened.
 */
import { Backoff } from '../backoff.js';
import type pg from 'pg';
import type { Logger } from 'pino';
import { listenForNotifications } from '../system-db/notification-channel.js';

export interface NotificationListenerOptions {
  /** A new, unconnected client on the system database. */
  readonly connect: () => pg.Client;
  readonly logger: Logger;
  readonly onNotification: (payload: string | undefined) => void;
  /** Called after a lost connection was re-established (notifications may have been missed). */
  readonly onReconnect: () => void;
}

const RECONNECT_START_MS = 100;
const RECONNECT_MAX_MS = 5_000;

export class NotificationListener {
  private client: pg.Client | undefined;
  private stopping = false;
  private reconnecting: Promise<void> | undefined;
  private cancelPause: (() => void) | undefined;

  constructor(private readonly options: NotificationListenerOptions) {}

  get connected(): boolean {
    return this.client !== undefined;
  }

  /** Opens the connection; fails if the database cannot be reached. */
  async start(): Promise<void> {
    this.client = await this.open();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.cancelPause?.();
    const client = this.client;
    this.client = undefined;
    await Promise.all([client?.end().catch(() => undefined), this.reconnecting]);
  }

  private async open(): Promise<pg.Client> {
    const client = this.options.connect();
    let alive = true;
    // An 'error' without a listener would crash the process; every client keeps this one.
    client.on('error', (error: Error) => {
      alive = false;
      this.lost(client, error);
    });
    client.on('end', () => {
      alive = false;
      this.lost(client, undefined);
    });
    client.on('notification', (notification) => this.options.onNotification(notification.payload));
    try {
      await client.connect();
      await listenForNotifications(client);
      if (!alive) throw new Error('the listener connection closed while it subscribed');
    } catch (error) {
      client.end().catch(() => undefined);
      throw error;
    }
    return client;
  }

  private lost(client: pg.Client, error: Error | undefined): void {
    if (client !== this.client) return;
    this.client = undefined;
    client.end().catch(() => undefined);
    if (this.stopping) return;
    this.options.logger.warn({ err: error }, 'notification listener lost its connection; reconnecting');
    this.reconnecting = this.reconnect().finally(() => (this.reconnecting = undefined));
  }

  private async reconnect(): Promise<void> {
    const backoff = new Backoff({ initialMs: RECONNECT_START_MS, maxMs: RECONNECT_MAX_MS, jitter: 0.5 });
    let waitMs = backoff.next();
    for (let attempt = 1; !this.stopping; attempt++) {
      await this.pause(waitMs);
      if (this.stopping) return;
      let client: pg.Client;
      try {
        client = await this.open();
      } catch (error) {
        waitMs = backoff.next();
        // The first failure says what is wrong; repeating it every few seconds says nothing new.
        const level = attempt === 1 ? 'warn' : 'debug';
        this.options.logger[level]({ err: error, attempt }, `notification listener could not reconnect; retrying in ${Math.round(waitMs)} ms`);
        continue;
      }
      if (this.stopping) {
        await client.end().catch(() => undefined);
        return;
      }
      this.client = client;
      this.options.logger.info({ attempt }, 'notification listener reconnected');
      this.options.onReconnect();
      return;
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.cancelPause = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
