/** `pnpm chaos [--duration SECONDS] [--seed N]` and the settings derived from them. */
export interface ChaosOptions {
  /** Seconds of load with faults; setup, recovery, checks and fuzzing come on top. */
  readonly durationS: number;
  readonly seed: number;
  /** Concurrent HTTP clients. */
  readonly clients: number;
  /** `operon start` processes serving the app from one Postgres. */
  readonly runtimes: number;
  /** The most orders sent, whatever the duration. */
  readonly maxRequests: number;
  /** Config mutations loaded in-process, and how many of them also go through `operon start`. */
  readonly configCases: number;
  readonly configCliRuns: number;
  /** Keep the run's folder (logs, side log, config fuzz files) even when every check passed. */
  readonly keep: boolean;
}

export class ChaosUsageError extends Error {}

const USAGE = 'usage: pnpm chaos [--duration SECONDS] [--seed N] [--clients N] [--runtimes N] [--keep]';

export function parseChaosOptions(argv: readonly string[]): ChaosOptions {
  const values = new Map<string, string>();
  let keep = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') continue;
    if (arg === '--keep') {
      keep = true;
      continue;
    }
    const match = /^--(duration|seed|clients|runtimes)(?:=(.*))?$/.exec(arg);
    if (!match) throw new ChaosUsageError(`unknown argument ${JSON.stringify(arg)}; ${USAGE}`);
    const value = match[2] ?? argv[++i];
    if (value === undefined) throw new ChaosUsageError(`--${match[1]} needs a value; ${USAGE}`);
    values.set(match[1]!, value);
  }
  const durationS = integer(values.get('duration') ?? '60', '--duration', 5, 3600);
  const seed = integer(values.get('seed') ?? String(Math.floor(Math.random() * 1_000_000)), '--seed', 0, 2 ** 32 - 1);
  const clients = integer(values.get('clients') ?? '16', '--clients', 1, 256);
  // Two at least: a runtime fault never hits the last runtime serving.
  const runtimes = integer(values.get('runtimes') ?? '3', '--runtimes', 2, 8);
  return {
    durationS,
    seed,
    clients,
    runtimes,
    maxRequests: durationS * 400,
    configCases: Math.min(1_000, 60 + durationS * 3),
    configCliRuns: Math.min(60, 4 + Math.floor(durationS / 5)),
    keep,
  };
}

function integer(text: string, flag: string, min: number, max: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) {
    throw new ChaosUsageError(`${flag} must be an integer from ${min} to ${max}, got ${JSON.stringify(text)}`);
  }
  return value;
}
