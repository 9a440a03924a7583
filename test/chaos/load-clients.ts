/**
 * The load: concurrent careful clients, each starting orders one after another. Every order has
 * its own `operon-workflowuuid`; on a connection error, a timeout or a 5xx the client sends the
 * very same request again (same UUID, same body) until it gets an answer, as a client that wants
 * its order placed exactly once must. Any 4xx to these valid requests is a failure of the run.
 */
import type { SeededRandom } from './seeded-random.js';
import type { Timeline } from './timeline.js';
import { orderPayload } from './order-payloads.js';

export interface OrderReceipt {
  readonly orderId: string;
  readonly seq: number;
  readonly token: string;
}

export interface SentOrder {
  readonly orderId: string;
  readonly payload: string;
  readonly workflowUUID: string;
  /** The `x-chaos-user` header; undefined sends none (the app calls that user `anonymous`). */
  readonly user: string | undefined;
  readonly firstSentAtMs: number;
  attempts: number;
  completedAtMs?: number;
  receipt?: OrderReceipt;
  /** A final answer that is not the order's receipt (a 4xx, or a 200 with another order's result). */
  refused?: { readonly status: number; readonly body: string };
}

export interface LoadOptions {
  readonly baseUrl: string;
  readonly rng: SeededRandom;
  readonly timeline: Timeline;
  readonly clients: number;
  readonly maxRequests: number;
  /** One attempt waits this long for an answer before it is sent again. */
  readonly attemptTimeoutMs: number;
}

export interface LoadCounters {
  attempts: number;
  connectionErrors: number;
  timeouts: number;
  serverErrors: number;
}

const USERS: readonly (string | undefined)[] = ['alice', 'bob', 'carol', undefined];
const BACKOFF_START_MS = 100;
const BACKOFF_MAX_MS = 2_000;

export class LoadGenerator {
  readonly orders: SentOrder[] = [];
  readonly counters: LoadCounters = { attempts: 0, connectionErrors: 0, timeouts: 0, serverErrors: 0 };
  private loadUntilMs = 0;
  private giveUpAtMs = Number.POSITIVE_INFINITY;
  private loops: Promise<void>[] = [];

  constructor(private readonly options: LoadOptions) {}

  /** Starts the clients; they start new orders until `loadUntilMs` (timeline time) or the request cap. */
  start(loadUntilMs: number): void {
    this.loadUntilMs = loadUntilMs;
    this.loops = Array.from({ length: this.options.clients }, () => this.clientLoop());
  }

  /** Outstanding orders keep being retried until `giveUpAtMs`; resolves once every client is done. */
  async drain(giveUpAtMs: number): Promise<void> {
    this.giveUpAtMs = giveUpAtMs;
    await Promise.all(this.loops);
  }

  get outstanding(): number {
    return this.orders.filter((o) => o.receipt === undefined && o.refused === undefined).length;
  }

  private async clientLoop(): Promise<void> {
    const { rng, timeline, maxRequests } = this.options;
    while (timeline.now() < this.loadUntilMs && this.orders.length < maxRequests) {
      const order: SentOrder = {
        orderId: `order-${rng.seed}-${this.orders.length}`,
        payload: orderPayload(rng),
        workflowUUID: rng.uuid(),
        user: rng.pick(USERS),
        firstSentAtMs: timeline.now(),
        attempts: 0,
      };
      this.orders.push(order);
      await this.placeOnce(order);
    }
  }

  /** Sends the order until it has a final answer or the run gives up on it. */
  private async placeOnce(order: SentOrder): Promise<void> {
    const { timeline } = this.options;
    let backoffMs = BACKOFF_START_MS;
    while (timeline.now() < this.giveUpAtMs) {
      const outcome = await this.attempt(order);
      if (outcome === 'done') return;
      await new Promise((resolve) => setTimeout(resolve, backoffMs * (0.5 + Math.random())));
      backoffMs = Math.min(backoffMs * 2, BACKOFF_MAX_MS);
    }
  }

  private async attempt(order: SentOrder): Promise<'done' | 'retry'> {
    const { baseUrl, timeline, attemptTimeoutMs } = this.options;
    order.attempts++;
    this.counters.attempts++;
    const headers: Record<string, string> = { 'content-type': 'application/json', 'operon-workflowuuid': order.workflowUUID };
    if (order.user !== undefined) headers['x-chaos-user'] = order.user;
    let response: Response;
    let body: string;
    try {
      response = await fetch(`${baseUrl}/orders`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ orderId: order.orderId, payload: order.payload }),
        signal: AbortSignal.timeout(attemptTimeoutMs),
      });
      body = await response.text();
    } catch (error) {
      if ((error as Error).name === 'TimeoutError') this.counters.timeouts++;
      else this.counters.connectionErrors++;
      return 'retry';
    }
    if (response.status >= 500) {
      this.counters.serverErrors++;
      timeline.recordServerError(response.status, `POST /orders ${order.orderId} (attempt ${order.attempts})`, body);
      return 'retry';
    }
    if (response.status === 200) {
      const receipt = parseReceipt(body);
      if (receipt?.orderId === order.orderId && response.headers.get('operon-workflowuuid') === order.workflowUUID) {
        order.receipt = receipt;
        order.completedAtMs = timeline.now();
        return 'done';
      }
    }
    order.refused = { status: response.status, body: body.slice(0, 300) };
    timeline.log(`order ${order.orderId} refused: ${response.status} ${body.slice(0, 200)}`);
    return 'done';
  }
}

function parseReceipt(body: string): OrderReceipt | undefined {
  try {
    const value = JSON.parse(body) as OrderReceipt;
    return typeof value.orderId === 'string' && typeof value.seq === 'number' && typeof value.token === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}
