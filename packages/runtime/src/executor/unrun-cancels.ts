/**
 * Cancels of workflows this process has claimed but runs no execution of.
 *
 * - A claim (an adoption, a dequeue, a start) owns a workflow a moment before its execution is
 *   registered: a cancel heard in between reaches no execution. It is kept here for a while, and
 *   the execution, once registered, asks the workflow's status before its first operation.
 * - A workflow claimed and then not run (its function is not registered here, its version does not
 *   load) stays owned by this instance. Cancelled, it is let go of at once (owner NULL), so a
 *   resume does not wait for this executor to stop.
 */
import type { Logger } from 'pino';

/** How long a cancel heard for no execution is kept: far longer than a claim takes to register its executions. */
const KEPT_MS = 60_000;
/** At most this many kept (a bulk cancel notifies every process of each of its workflows). */
const KEPT_MAX = 100_000;

export class UnrunCancels {
  /** UUID → when the cancel was heard (the process's monotonic clock: a memory bound, not workflow time). */
  private readonly heard = new Map<string, number>();
  /** UUID → the instance that claimed it and does not run it. */
  private readonly held = new Map<string, string>();

  constructor(
    /** Lets go of a cancelled workflow `owner` holds; resolves true if it did. */
    private readonly release: (workflowUUID: string, owner: string) => Promise<boolean>,
    private readonly logger: Logger,
  ) {}

  /** A cancel was heard (notified, or found by a status check) for a workflow no execution here runs. */
  cancelled(workflowUUID: string): void {
    const now = performance.now();
    // Oldest first (insertion order): drop what no claim can still be registering.
    for (const [uuid, at] of this.heard) {
      if (now - at < KEPT_MS && this.heard.size < KEPT_MAX) break;
      this.heard.delete(uuid);
    }
    this.heard.delete(workflowUUID);
    this.heard.set(workflowUUID, now);
    const owner = this.held.get(workflowUUID);
    if (owner !== undefined) this.letGo(workflowUUID, owner);
  }

  /** Whether a cancel was heard for it lately: its execution checks the status before it runs anything. Forgets it. */
  take(workflowUUID: string): boolean {
    return this.heard.delete(workflowUUID);
  }

  /** `owner` claimed this workflow and does not run it: let go of it when it is cancelled (or now, if it was). */
  hold(workflowUUID: string, owner: string): void {
    this.held.set(workflowUUID, owner);
    if (this.heard.has(workflowUUID)) this.letGo(workflowUUID, owner);
  }

  /** Held here without an execution: a listener back from a lost connection asks which of these were cancelled too. */
  holding(): string[] {
    return [...this.held.keys()];
  }

  /** Forgets every cancel and claim (the testing runtime's reset: those workflows' records are gone). */
  clear(): void {
    this.heard.clear();
    this.held.clear();
  }

  private letGo(workflowUUID: string, owner: string): void {
    // Conditional on CANCELLED and on this owner: a stale cancel changes nothing, and it stays held.
    this.release(workflowUUID, owner).then(
      (released) => {
        if (released && this.held.get(workflowUUID) === owner) this.held.delete(workflowUUID);
      },
      (error: unknown) => this.logger.warn({ err: error, workflowUUID }, `workflow ${workflowUUID}: could not let go of it after its cancel; a resume waits until this executor stops`),
    );
  }
}
