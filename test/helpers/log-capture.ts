/** Collects every line a pino logger writes, as text and parsed, for tests that read logs. */
import { createLogger } from '../../packages/runtime/src/logging.js';
import type { LogLevel } from '@operon/runtime';

export interface CapturedLogs {
  readonly logger: ReturnType<typeof createLogger>;
  /** Every line written so far, as written. */
  readonly lines: string[];
  /** Every line written so far, parsed. */
  records(): Record<string, unknown>[];
}

export function captureLogs(level: LogLevel = 'debug'): CapturedLogs {
  const lines: string[] = [];
  // A synchronous destination: a line is readable as soon as the call that logged it returns.
  const destination = {
    write(chunk: string) {
      for (const line of chunk.split('\n')) if (line !== '') lines.push(line);
    },
  };
  return { logger: createLogger(level, destination), lines, records: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>) };
}
