/**
 * What the workloads beside the order load share: a few client loops that start one piece of
 * work after another until the load window closes, each sent with a careful client (retried until
 * answered), and a check at the end that reads what the app left and names every problem.
 */
import type { CarefulAnswer, CarefulClient, CarefulRequest } from './careful-client.js';
import type { PostgresServer } from './postgres-server.js';
import type { Timeline } from './timeline.js';

export interface WorkloadCheck {
  /** Pieces of work the workload sent (each counted once, however often it was retried). */
  readonly runs: number;
  readonly problems: readonly string[];
  /** Figures for the report, beside the runs and problems. */
  readonly figures: Readonly<Record<string, number>>;
}

export interface Workload {
  readonly name: string;
  /** Starts the client loops; they start new work until `untilMs` (timeline time). */
  start(untilMs: number): void;
  /** Work without an answer keeps being retried until `giveUpAtMs`; resolves once every piece is answered or given up. */
  drain(giveUpAtMs: number): Promise<void>;
  readonly outstanding: number;
  check(postgres: PostgresServer): Promise<WorkloadCheck>;
}

/** A final answer to one piece of work: a 200's body, or why there is none. */
export type Answer<T> = { readonly ok: T } | { readonly refused: string } | { readonly unanswered: true };

export abstract class LoopingWorkload implements Workload {
  abstract readonly name: string;
  private readonly inFlight = new Set<Promise<void>>();
  private loops: Promise<void>[] = [];
  private untilMs = 0;
  private giveUpAtMs = Number.POSITIVE_INFINITY;
  private unanswered = 0;

  constructor(
    protected readonly client: CarefulClient,
    protected readonly timeline: Timeline,
    private readonly loopCount: number,
    private readonly maxRuns: number,
  ) {}

  /** How many pieces of work were started so far. */
  protected abstract get runs(): number;

  /** Starts one piece of work and resolves once it has its final answer. */
  protected abstract runOne(): Promise<void>;

  abstract check(postgres: PostgresServer): Promise<WorkloadCheck>;

  start(untilMs: number): void {
    this.untilMs = untilMs;
    this.loops = Array.from({ length: this.loopCount }, () => this.loop());
  }

  async drain(giveUpAtMs: number): Promise<void> {
    this.giveUpAtMs = giveUpAtMs;
    await Promise.all(this.loops);
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  get outstanding(): number {
    return this.unanswered;
  }

  private async loop(): Promise<void> {
    while (this.timeline.now() < this.untilMs && this.runs < this.maxRuns) await this.runOne();
  }

  /** Runs `work` outside the loops (the held round), retried until `giveUpAtMs`; drain waits for it too. */
  protected track(work: () => Promise<void>, giveUpAtMs: number): Promise<void> {
    if (this.giveUpAtMs < giveUpAtMs) this.giveUpAtMs = giveUpAtMs;
    const tracked: Promise<void> = work().finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
    return tracked;
  }

  /** Posts carefully; a 200's body parsed as JSON, or what came instead. */
  protected async post<T>(request: CarefulRequest): Promise<Answer<T>> {
    this.unanswered++;
    let answer: CarefulAnswer | undefined;
    try {
      answer = await this.client.post(request, () => this.giveUpAtMs);
    } finally {
      this.unanswered--;
    }
    if (!answer) return { unanswered: true };
    if (answer.status !== 200) return { refused: `${answer.status} ${answer.body.slice(0, 300)}` };
    if (request.workflowUUID !== undefined && answer.workflowUUID !== request.workflowUUID) {
      return { refused: `200 naming workflow ${answer.workflowUUID} in operon-workflowuuid, not ${request.workflowUUID}` };
    }
    try {
      return { ok: JSON.parse(answer.body) as T };
    } catch {
      return { refused: `200 with a body that is not JSON: ${answer.body.slice(0, 200)}` };
    }
  }
}

/** The problem with an answer that is not a 200, or undefined for a 200. */
export function answerProblem(answer: Answer<unknown> | undefined): string | undefined {
  if (answer === undefined || 'unanswered' in answer) return 'never answered (retried until the run gave up)';
  if ('refused' in answer) return `refused: ${answer.refused}`;
  return undefined;
}

/** Keeps at most `max` problem lines, and says how many more there were. */
export function capped(problems: readonly string[], max = 40): string[] {
  return problems.length <= max ? [...problems] : [...problems.slice(0, max), `… and ${problems.length - max} more`];
}

export const json = (value: unknown): string => {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 240 ? `${text.slice(0, 240)}…` : text;
};
