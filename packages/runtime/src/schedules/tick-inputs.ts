/**
 * A scheduled run's two inputs, the tick and when its run was started. They are recorded as any
 * inputs are; a recorded Date may read back as its ISO text, so the workflow is always handed
 * Date objects from here, on its first run and on every recovered or replayed one alike.
 */
import { serialize } from '../executor/serialization.js';

/** The recorded inputs of the run for `tick`, started at `startedAt` (both epoch ms). */
export function tickInputs(tick: number, startedAt: number): string {
  return serialize([new Date(tick), new Date(startedAt)], 'the inputs of a scheduled run')!;
}

/** The arguments a scheduled workflow is called with, from its inputs as read back. */
export function tickArguments(args: readonly unknown[]): unknown[] {
  return args.map((arg, i) => (i < 2 && (typeof arg === 'string' || typeof arg === 'number') ? new Date(arg) : arg));
}
