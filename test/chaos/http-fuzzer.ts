/**
 * The fuzzing pass over the HTTP surface, against the running `operon start`. Every case must get
 * an answer below 500 with no stack trace in it (a clear 4xx for bad input), and the server must
 * still answer its health check after every batch. Forged `operon-workflowuuid` headers are
 * checked against the rule Operon keeps: a UUID names one workflow of one function, one caller
 * and one set of inputs; the same call again gets that workflow's result (a retry), anything
 * else 409.
 */
import type { ExpectedOrder } from './consistency-checks.js';
import { mutatedCases, staticCases, type FuzzCase } from './http-fuzz-cases.js';
import { encodeRequest, rawExchange, type RawRequest, type RawResponse } from './raw-http.js';
import type { SeededRandom } from './seeded-random.js';
import type { Timeline } from './timeline.js';

export interface FuzzSummary {
  cases: number;
  failures: string[];
}

/** A stack frame, a source position or a path on this machine: nothing a client should see. */
const STACK_TRACE = /\n\s+at |\bat [\w.<>]+ \(|\.(?:ts|js|mjs):\d+|node_modules|\/work\/|\/tmp\//;
const HEALTH_EVERY = 20;
/** An answer slower than this is worth a line in the log (an incomplete request waits for its half-close). */
const SLOW_MS = 1_500;

export class HttpFuzzer {
  readonly summary: FuzzSummary = { cases: 0, failures: [] };
  /** Orders the fuzzer placed on purpose or that bad-but-acceptable input placed. */
  readonly placedOrders: ExpectedOrder[] = [];

  constructor(
    private readonly port: number,
    private readonly rng: SeededRandom,
    private readonly timeline: Timeline,
  ) {}

  async run(mutations: number): Promise<FuzzSummary> {
    const cases = [...staticCases(this.rng), ...mutatedCases(this.rng, mutations)];
    for (let i = 0; i < cases.length; i++) {
      await this.runCase(cases[i]!);
      if (i % HEALTH_EVERY === HEALTH_EVERY - 1) await this.assertHealthy(`after case ${i + 1}`);
    }
    await this.forgedWorkflowUUIDs();
    await this.assertHealthy('after the HTTP fuzzing');
    return this.summary;
  }

  private fail(name: string, what: string): void {
    this.summary.failures.push(`${name}: ${what}`);
    this.timeline.log(`fuzz failure: ${name}: ${what}`);
  }

  private async exchange(request: RawRequest | Buffer, mayDrop = false): Promise<RawResponse | string> {
    const bytes = Buffer.isBuffer(request) ? request : encodeRequest(request);
    const outcome = await rawExchange(this.port, bytes, { halfCloseAfterMs: mayDrop ? 1_000 : undefined });
    return 'response' in outcome ? outcome.response : outcome.failure;
  }

  /** Sends one case and judges the answer; returns it for further checks. */
  private async runCase(c: FuzzCase): Promise<RawResponse | undefined> {
    this.summary.cases++;
    const startedAt = Date.now();
    const answer = await this.exchange(c.request, c.mayDrop);
    const tookMs = Date.now() - startedAt;
    if (tookMs > SLOW_MS) this.timeline.log(`fuzz: ${c.name} took ${tookMs} ms (${typeof answer === 'string' ? answer : `status ${answer.status}`})`);
    if (typeof answer === 'string') {
      if (!c.mayDrop) this.fail(c.name, answer);
      return undefined;
    }
    const problem = judge(c, answer);
    if (problem) this.fail(c.name, problem);
    else if (answer.status === 200 && c.places) this.notePlacedOrder(answer, c.places.payload, undefined);
    return answer;
  }

  private notePlacedOrder(answer: RawResponse, payload: string | undefined, workflowUUID: string | undefined): void {
    const receipt = parseJson(answer.body) as { orderId?: unknown; seq?: unknown; token?: unknown } | undefined;
    if (typeof receipt?.orderId !== 'string' || typeof receipt.seq !== 'number' || typeof receipt.token !== 'string') return;
    if (this.placedOrders.some((o) => o.orderId === receipt.orderId)) return;
    this.placedOrders.push({
      orderId: receipt.orderId,
      payload,
      workflowUUID: workflowUUID ?? answer.headers.get('operon-workflowuuid'),
      receipt: { seq: receipt.seq, token: receipt.token },
    });
  }

  private async assertHealthy(when: string): Promise<void> {
    const answer = await this.exchange({ method: 'GET', path: '/operon/health' });
    if (typeof answer === 'string' || answer.status !== 200) {
      this.fail(`health ${when}`, typeof answer === 'string' ? answer : `status ${answer.status}`);
    }
  }

  private order(uuid: string, user: string | undefined, orderId: string, payload: string): RawRequest {
    const headers: [string, string][] = [['content-type', 'application/json'], ['operon-workflowuuid', uuid]];
    if (user) headers.push(['x-chaos-user', user]);
    return { method: 'POST', path: '/orders', headers, body: JSON.stringify({ orderId, payload }) };
  }

  private echo(uuid: string, user: string | undefined, text: string): RawRequest {
    const headers: [string, string][] = [['content-type', 'application/json'], ['operon-workflowuuid', uuid]];
    if (user) headers.push(['x-chaos-user', user]);
    return { method: 'POST', path: '/echo', headers, body: JSON.stringify({ text }) };
  }

  /** Sends `request` as case `name` and requires `status`; returns the answer when it had it. */
  private async expectStatus(name: string, request: RawRequest, status: number, secret?: string): Promise<RawResponse | undefined> {
    const answer = await this.runCase({ name, request, statuses: [status] });
    if (answer && secret !== undefined && answer.status !== 200 && answer.body.includes(secret)) {
      this.fail(name, 'the refusal shows the other workflow’s result');
    }
    return answer?.status === status ? answer : undefined;
  }

  private async forgedWorkflowUUIDs(): Promise<void> {
    const seed = this.rng.seed;
    const victimUUID = this.rng.uuid();
    const victimId = `fuzz-${seed}-victim`;
    const placed = await this.expectStatus('victim order (alice)', this.order(victimUUID, 'alice', victimId, 'alice’s order'), 200);
    if (!placed) return;
    this.notePlacedOrder(placed, 'alice’s order', victimUUID);
    const token = (parseJson(placed.body) as { token: string }).token;

    await this.expectStatus('forged UUID on another workflow function (/echo)', this.echo(victimUUID, 'alice', 'x'), 409, token);
    await this.expectStatus(
      'forged UUID on a transaction (GET /orders/:id)',
      { method: 'GET', path: `/orders/${encodeURIComponent(victimId)}`, headers: [['operon-workflowuuid', victimUUID], ['x-chaos-user', 'alice']] },
      409,
      token,
    );
    await this.expectStatus('forged UUID by another user (mallory)', this.order(victimUUID, 'mallory', `fuzz-${seed}-forged`, 'mallory'), 409, token);
    await this.expectStatus('forged UUID by an anonymous caller', this.order(victimUUID, undefined, `fuzz-${seed}-forged-anon`, 'anon'), 409, token);

    const retry = await this.expectStatus('the same request again (a retry)', this.order(victimUUID, 'alice', victimId, 'alice’s order'), 200);
    if (retry && parseJson(retry.body)?.token !== token) this.fail('the same request again (a retry)', 'a different result than the first time');
    // Other inputs under the same UUID are another request, not a retry: refused, and never answered with the first one's result.
    await this.expectStatus('same UUID, same function and caller, other arguments', this.order(victimUUID, 'alice', `fuzz-${seed}-victim-changed`, 'changed'), 409, token);

    const echoUUID = this.rng.uuid();
    await this.expectStatus('an echo workflow (bob)', this.echo(echoUUID, 'bob', 'bob’s echo'), 200);
    await this.expectStatus('an order under the echo’s UUID', this.order(echoUUID, 'bob', `fuzz-${seed}-over-echo`, 'p'), 409, 'bob’s echo');

    await this.concurrentForgery();
  }

  /** Orders and echoes race for one fresh UUID: exactly one function wins, every other request is refused. */
  private async concurrentForgery(): Promise<void> {
    const name = 'concurrent starts of two functions under one UUID';
    const uuid = this.rng.uuid();
    const orderId = `fuzz-${this.rng.seed}-race`;
    const requests = Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? this.order(uuid, 'carol', orderId, 'race') : this.echo(uuid, 'carol', 'race')));
    const answers = await Promise.all(requests.map((r) => this.exchange(r)));
    this.summary.cases += answers.length;
    const statuses = answers.map((a) => (typeof a === 'string' ? a : a.status));
    const orders = statuses.filter((_, i) => i % 2 === 0);
    const echoes = statuses.filter((_, i) => i % 2 === 1);
    const wonByOrders = orders.every((s) => s === 200) && echoes.every((s) => s === 409);
    const wonByEchoes = echoes.every((s) => s === 200) && orders.every((s) => s === 409);
    if (!wonByOrders && !wonByEchoes) this.fail(name, `orders answered ${orders.join(',')}, echoes ${echoes.join(',')}`);
    if (wonByOrders) this.notePlacedOrder(answers[0] as RawResponse, 'race', uuid);
  }
}

function judge(c: FuzzCase, answer: RawResponse): string | undefined {
  if (answer.status >= 500) return `answered ${answer.status}: ${answer.body.slice(0, 200)}`;
  if (STACK_TRACE.test(answer.body)) return `the answer shows internals: ${answer.body.slice(0, 300)}`;
  if (c.statuses ? !c.statuses.includes(answer.status) : answer.status < 400) {
    return `answered ${answer.status}, expected ${c.statuses?.join(' or ') ?? 'a 4xx'}: ${answer.body.slice(0, 200)}`;
  }
  if (answer.status >= 400 && !c.protocolLevel && answer.status !== 405) {
    const error = (parseJson(answer.body) as { error?: unknown } | undefined)?.error;
    if (typeof error !== 'string' || error.trim() === '') return `a ${answer.status} without a JSON { error } message: ${answer.body.slice(0, 200)}`;
  }
  return c.check?.(answer.status, answer.body);
}

function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(text) as unknown;
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
