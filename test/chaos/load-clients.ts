/**
 * The load: concurrent careful clients, each starting orders one after another. Every order has
 * its own `operon-workflowuuid`; on a connection error, a timeout or a 5xx the client sends the
 * very same request again (same UUID, same body) until it gets an answer, as a client that wants
 * its order placed exactly once must. Any 4xx to these valid requests is a failure of the run.
 */
import { CarefulClient, type CarefulCounters } from './careful-client.js';
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
  /** One per runtime: the clients' attempts go round them. */
  readonly baseUrls: readonly string[];
  readonly rng: SeededRandom;
  readonly timeline: Timeline;
  readonly clients: number;
  readonly maxRequests: number;
  /** One attempt waits this long for an answer before it is sent again. */
  readonly attemptTimeoutMs: number;
}

export type LoadCounters = CarefulCounters;

const USERS: readonly (string | undefined)[] = ['alice', 'bob', 'carol', undefined];

export class LoadGenerator {
  readonly orders: SentOrder[] = [];
  private readonly client: CarefulClient;
  private loadUntilMs = 0;
  private giveUpAtMs = Number.POSITIVE_INFINITY;
  private loops: Promise<void>[] = [];

  constructor(private readonly options: LoadOptions) {
    this.client = new CarefulClient(options.baseUrls, options.timeline, options.attemptTimeoutMs);
  }

  get counters(): LoadCounters {
    return this.client.counters;
  }

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
    const answer = await this.client.post(
      { path: '/orders', body: { orderId: order.orderId, payload: order.payload }, workflowUUID: order.workflowUUID, user: order.user, what: order.orderId },
      () => this.giveUpAtMs,
    );
    if (!answer) return;
    order.attempts = answer.attempts;
    if (answer.status === 200) {
      const receipt = parseReceipt(answer.body);
      if (receipt?.orderId === order.orderId && answer.workflowUUID === order.workflowUUID) {
        order.receipt = receipt;
        order.completedAtMs = timeline.now();
        return;
      }
    }
    order.refused = { status: answer.status, body: answer.body.slice(0, 300) };
    timeline.log(`order ${order.orderId} refused: ${answer.status} ${answer.body.slice(0, 200)}`);
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
