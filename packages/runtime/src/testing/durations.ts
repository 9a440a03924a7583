/** Durations for the virtual clock: milliseconds, or a number with a unit ('250ms', '30s', '5m', '2h', '30d'). */
import { OperonTestingUsageError } from './testing-errors.js';

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/;

export type Duration = number | `${number}${keyof typeof UNIT_MS}`;

/** `duration` in whole milliseconds; anything else than a finite duration ≥ 0 fails naming what it got. */
export function durationMs(helper: string, duration: unknown): number {
  if (typeof duration === 'number' && Number.isFinite(duration) && duration >= 0) return Math.round(duration);
  if (typeof duration === 'string') {
    const match = DURATION.exec(duration.trim());
    if (match) return Math.round(Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS]);
  }
  const got = typeof duration === 'string' ? `'${duration}'` : String(duration);
  throw new OperonTestingUsageError(helper, `the duration must be milliseconds (a finite number ≥ 0) or a number with a unit (ms, s, m, h, d), as '30s' or '2h'; got ${got}`);
}

/** `ms` in the largest unit that holds it whole ('2h', '90m', '1500ms'), as `advance` takes it. */
export function formatDuration(ms: number): Duration {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    if (ms >= UNIT_MS[unit] && ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`;
  }
  return `${ms}ms`;
}
