/**
 * The closed loop both frameworks are driven by: `concurrency` async loops in one process, each
 * starting a workflow and awaiting its result before starting the next, until `total` are done.
 */
import { performance } from 'node:perf_hooks';
import { percentile, round } from './stats.js';
import type { ThroughputResult } from './protocol.js';

export interface LoopRun {
  /** Per-workflow latency (start call to result), in ms, in completion order. */
  readonly latenciesMs: number[];
  readonly elapsedMs: number;
}

export async function closedLoop(concurrency: number, total: number, runOne: (index: number) => Promise<unknown>): Promise<LoopRun> {
  const latenciesMs: number[] = [];
  let next = 0;
  const loop = async (): Promise<void> => {
    while (next < total) {
      const index = next++;
      const started = performance.now();
      await runOne(index);
      latenciesMs.push(performance.now() - started);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, loop));
  return { latenciesMs, elapsedMs: performance.now() - started };
}

/** `process.resourceUsage().maxRSS` is in kilobytes. */
export function peakRssMB(): number {
  return round(process.resourceUsage().maxRSS / 1024, 1);
}

/** Warm-up (discarded), then the timed phase, at the same concurrency. */
export async function measureThroughput(
  concurrency: number,
  warmup: number,
  timed: number,
  runOne: (index: number) => Promise<unknown>,
): Promise<ThroughputResult> {
  await closedLoop(concurrency, warmup, runOne);
  const cpuBefore = process.cpuUsage();
  const run = await closedLoop(concurrency, timed, (index) => runOne(warmup + index));
  const cpu = process.cpuUsage(cpuBefore);
  const seconds = run.elapsedMs / 1000;
  return {
    workflows: timed,
    seconds: round(seconds, 3),
    wfPerSec: round(timed / seconds, 1),
    p50Ms: round(percentile(run.latenciesMs, 50), 2),
    p99Ms: round(percentile(run.latenciesMs, 99), 2),
    rssMB: peakRssMB(),
    cpuMs: round((cpu.user + cpu.system) / 1000, 1),
  };
}
