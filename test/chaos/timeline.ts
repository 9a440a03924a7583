/**
 * What happened when, in milliseconds since the run began: faults, the windows in which the
 * database was down, and every 5xx answer. A 5xx is allowed only inside such a window (plus a
 * short grace for the app's pool to notice the server is back); any other 5xx fails the run.
 */
export interface Outage {
  readonly kind: string;
  readonly fromMs: number;
  toMs: number | undefined;
}

export interface ServerError {
  readonly atMs: number;
  /** The runtime that answered. */
  readonly baseUrl?: string;
  readonly status: number;
  readonly what: string;
  readonly body: string;
}

/** After the database is back, in-flight statements on connections it dropped still fail for a moment. */
export const OUTAGE_GRACE_MS = 2_000;

export class Timeline {
  private readonly startedAt = Date.now();
  readonly outages: Outage[] = [];
  readonly serverErrors: ServerError[] = [];
  /** Windows in which one runtime was stopping on SIGTERM: it may answer 503 (fastify's, while it closes). */
  readonly stopping: { readonly baseUrl: string; readonly fromMs: number; toMs: number | undefined }[] = [];

  constructor(private readonly print: (line: string) => void) {}

  now(): number {
    return Date.now() - this.startedAt;
  }

  log(text: string): void {
    this.print(`[${(this.now() / 1000).toFixed(1).padStart(6)}s] ${text}`);
  }

  /** Marks the database down from now until the returned function is called. */
  beginOutage(kind: string): () => void {
    const outage: Outage = { kind, fromMs: this.now(), toMs: undefined };
    this.outages.push(outage);
    return () => {
      outage.toMs = this.now();
    };
  }

  recordServerError(status: number, what: string, body: string, baseUrl?: string): void {
    this.serverErrors.push({ atMs: this.now(), status, what, body: body.slice(0, 300), baseUrl });
  }

  /** Marks one runtime as stopping from now until the returned function is called. */
  beginStopping(baseUrl: string): () => void {
    const window = { baseUrl, fromMs: this.now(), toMs: undefined as number | undefined };
    this.stopping.push(window);
    return () => {
      window.toMs = this.now();
    };
  }

  /** A 503 from a runtime that was stopping is its graceful refusal, for the client to send elsewhere. */
  private fromStoppingRuntime(e: ServerError): boolean {
    return e.status === 503 && this.stopping.some((w) => w.baseUrl === e.baseUrl && e.atMs >= w.fromMs && e.atMs <= (w.toMs ?? Number.POSITIVE_INFINITY));
  }

  duringOutage(atMs: number): boolean {
    return this.outages.some((o) => atMs >= o.fromMs && atMs <= (o.toMs ?? Number.POSITIVE_INFINITY) + OUTAGE_GRACE_MS);
  }

  serverErrorsOutsideOutages(): ServerError[] {
    return this.serverErrors.filter((e) => !this.duringOutage(e.atMs) && !this.fromStoppingRuntime(e));
  }
}
