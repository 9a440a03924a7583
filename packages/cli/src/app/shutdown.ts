/**
 * Graceful shutdown for `operon start`: on SIGTERM or SIGINT, run `stop` once and exit 0 (or 1 if
 * it failed). A second signal exits at once; what was running stays PENDING in the database and
 * the next start recovers it, so giving up is safe, only slower. Signals within a second of the
 * first are the same request delivered twice (Ctrl-C reaches npm and the app alike, and npm
 * passes it on), not an impatient user.
 */
import { EXIT_FAILURE, reportError } from '../report-error.js';
import type { Logger } from './open-runtime.js';

const REPEAT_IGNORED_MS = 1_000;

export function stopOnSignal(logger: Logger, stop: () => Promise<void>): void {
  let firstSignalAt: number | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (firstSignalAt !== undefined) {
      if (Date.now() - firstSignalAt < REPEAT_IGNORED_MS) return;
      logger.warn(`operon: ${signal} again, exiting without waiting`);
      process.exit(EXIT_FAILURE);
    }
    firstSignalAt = Date.now();
    logger.info(`operon: ${signal} received, stopping`);
    stop().then(
      () => process.exit(0),
      (error: unknown) => process.exit(reportError(error)),
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

/** Resolves when `closing` does, or after `ms` (returning false) if requests are still in flight. */
export async function within(closing: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([closing.then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
