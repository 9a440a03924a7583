/** What every single-purpose bench script (retention, versions, queues, …) does the same way at its start. */
import { performance } from 'node:perf_hooks';

/** A progress line on stderr, `[name 12.3s] line`, timed from when this was made (stdout carries the figures). */
export function progressLog(name: string): (line: string) => void {
  const started = performance.now();
  return (line) => {
    process.stderr.write(`[${name} ${((performance.now() - started) / 1000).toFixed(1)}s] ${line}\n`);
  };
}

/**
 * `--name N` flags of positive integers over `defaults` (each flag names one of its keys); any
 * other flag or value fails with `usage` and what it got.
 */
export function parseIntegerFlags<T extends Record<string, number>>(argv: readonly string[], defaults: T, usage: string): T {
  const options: Record<string, number> = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') continue;
    const key = arg.replace(/^--/, '');
    const value = Number(argv[++i]);
    if (!arg.startsWith('--') || !Object.hasOwn(defaults, key) || !Number.isInteger(value) || value < 1) {
      throw new Error(`${usage}; got ${arg} ${argv[i] ?? ''}`);
    }
    options[key] = value;
  }
  return options as T;
}
