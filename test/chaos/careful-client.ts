/**
 * A careful HTTP client, the kind that wants a request done exactly once: on a connection error,
 * a timeout or a 5xx it sends the very same request again (same `operon-workflowuuid`, same
 * body), with backoff, until it gets an answer below 500 or the run gives up on it. Attempts go
 * round the runtimes in turn, as through a load balancer, so a retry usually reaches another
 * runtime than the one that was killed or paused under the first attempt. Every 5xx is
 * recorded in the timeline, so the report can tell those inside a database outage from the rest.
 * A request answered 5xx again and again outside any outage (a workflow that ended in an error
 * answers so forever) gets that 5xx as its final answer instead of being retried to the end.
 */
import type { Timeline } from './timeline.js';

export interface CarefulRequest {
  readonly path: string;
  readonly body: unknown;
  readonly workflowUUID?: string;
  /** The `x-chaos-user` header; none when undefined. */
  readonly user?: string;
  /** How the request is named in the timeline. */
  readonly what: string;
}

export interface CarefulAnswer {
  readonly status: number;
  readonly body: string;
  /** The response's `operon-workflowuuid`. */
  readonly workflowUUID: string | null;
  readonly attempts: number;
}

export interface CarefulCounters {
  attempts: number;
  connectionErrors: number;
  timeouts: number;
  serverErrors: number;
}

const BACKOFF_START_MS = 100;
const BACKOFF_MAX_MS = 2_000;
/** Consecutive 5xx answers outside a database outage after which a 5xx is the final answer. */
const MAX_SERVER_ERRORS = 8;

export class CarefulClient {
  readonly counters: CarefulCounters = { attempts: 0, connectionErrors: 0, timeouts: 0, serverErrors: 0 };
  private turn = 0;

  constructor(
    private readonly baseUrls: readonly string[],
    private readonly timeline: Timeline,
    private readonly attemptTimeoutMs: number,
  ) {}

  /** Sends until an answer below 500, or undefined once the timeline passes `giveUpAtMs()`. */
  async post(request: CarefulRequest, giveUpAtMs: () => number): Promise<CarefulAnswer | undefined> {
    let backoffMs = BACKOFF_START_MS;
    let serverErrors = 0;
    for (let attempts = 1; this.timeline.now() < giveUpAtMs(); attempts++) {
      const answer = await this.attempt(request, attempts);
      if (answer && answer.status < 500) return answer;
      if (answer && !this.timeline.duringOutage(this.timeline.now()) && ++serverErrors >= MAX_SERVER_ERRORS) return answer;
      await new Promise((resolve) => setTimeout(resolve, backoffMs * (0.5 + Math.random())));
      backoffMs = Math.min(backoffMs * 2, BACKOFF_MAX_MS);
    }
    return undefined;
  }

  /** One attempt: its answer, or undefined for a connection error or a timeout. */
  private async attempt(request: CarefulRequest, attempts: number): Promise<CarefulAnswer | undefined> {
    this.counters.attempts++;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (request.workflowUUID !== undefined) headers['operon-workflowuuid'] = request.workflowUUID;
    if (request.user !== undefined) headers['x-chaos-user'] = request.user;
    let response: Response;
    let body: string;
    const baseUrl = this.baseUrls[this.turn++ % this.baseUrls.length]!;
    try {
      response = await fetch(`${baseUrl}${request.path}`, {
        method: 'POST',
        headers,
        body: JSON.stringify(request.body),
        signal: AbortSignal.timeout(this.attemptTimeoutMs),
      });
      body = await response.text();
    } catch (error) {
      if ((error as Error).name === 'TimeoutError') this.counters.timeouts++;
      else this.counters.connectionErrors++;
      return undefined;
    }
    if (response.status >= 500) {
      this.counters.serverErrors++;
      this.timeline.recordServerError(response.status, `POST ${request.path} ${request.what} (attempt ${attempts})`, body, baseUrl);
    }
    return { status: response.status, body, workflowUUID: response.headers.get('operon-workflowuuid'), attempts };
  }
}
