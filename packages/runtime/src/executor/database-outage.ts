/**
 * Waiting out a database outage. One probe serves every workflow cut off at the same time, so an
 * outage costs one query per interval, not one per waiting workflow, and they all resume together
 * as soon as it ends.
 */
import { Backoff } from '../backoff.js';

/** The probe's interval: first after 100 ms, then doubling up to 1 s. */
const PROBE_BACKOFF = { initialMs: 100, maxMs: 1_000 } as const;

export class DatabaseOutage {
  private probe: Promise<void> | undefined;

  constructor(
    /** True when both databases answer a trivial query. */
    private readonly ping: () => Promise<boolean>,
    /** True once the runtime stops: the probe then ends, and its waiters give up. */
    private readonly stopping: () => boolean,
  ) {}

  /** Resolves once both databases answer, or once the runtime stops. */
  answers(): Promise<void> {
    this.probe ??= (async () => {
      const backoff = new Backoff(PROBE_BACKOFF);
      try {
        for (;;) {
          await backoff.wait();
          if (this.stopping() || (await this.ping())) return;
        }
      } finally {
        this.probe = undefined;
      }
    })();
    return this.probe;
  }
}
