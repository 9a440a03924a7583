/**
 * The benchmark's summary: the object printed as the last line (`BENCH-JSON {...}`) and its shape
 * check, which the unit test runs on a tiny benchmark's output.
 */
import { FRAMEWORKS, WORKLOADS, type Framework, type ThroughputResult, type Workload } from './protocol.js';
import { round } from './stats.js';

export interface ThroughputCell {
  wfPerSec: number | null;
  p50Ms: number | null;
  p99Ms: number | null;
  rssMB: number | null;
}

/** W3 with N Operon processes on one Postgres. */
export interface FleetCell {
  wfPerSec: number | null;
  p50Ms: number | null;
  p99Ms: number | null;
  /** All processes' statements over the timed window, heartbeats included, per workflow. */
  statementsPerWorkflow: number | null;
  heartbeatsPerSec: number | null;
  /** wfPerSec ÷ the one-process run's. */
  vsOneProcess: number | null;
}

/** W3's writes fenced as the runtime sends them, against the same writes without the fence. */
export interface FenceCell {
  fencedWfPerSec: number | null;
  unfencedWfPerSec: number | null;
  /** May be negative (noise): the fence then cost nothing measurable. */
  costPercent: number | null;
  usPerWorkflow: number | null;
}

/** The exact shape of the `BENCH-JSON` line. A measurement that failed is `null` (and the run exits non-zero). */
export interface BenchSummary {
  quick: boolean;
  ceiling: Record<string, number | null>;
  throughput: Record<Framework, Record<Workload, Record<string, ThroughputCell>>>;
  statements: Record<Framework, { W0: number | null; W3: number | null }>;
  recovery: Record<Framework, { workflows: number; seconds: number | null }>;
  coldStartMs: Record<Framework, number | null>;
  /** Keyed by the number of processes; each at `concurrency`. */
  fleet: { concurrency: number; processes: Record<string, FleetCell> };
  /** Keyed by concurrency. */
  fencing: Record<string, FenceCell>;
}

export const FLEET_KEYS = ['wfPerSec', 'p50Ms', 'p99Ms', 'statementsPerWorkflow', 'heartbeatsPerSec', 'vsOneProcess'] as const;
export const FENCE_KEYS = ['fencedWfPerSec', 'unfencedWfPerSec', 'costPercent', 'usPerWorkflow'] as const;

export const emptyFleetCell = (): FleetCell => ({ wfPerSec: null, p50Ms: null, p99Ms: null, statementsPerWorkflow: null, heartbeatsPerSec: null, vsOneProcess: null });
export const emptyFenceCell = (): FenceCell => ({ fencedWfPerSec: null, unfencedWfPerSec: null, costPercent: null, usPerWorkflow: null });

export const BENCH_JSON_PREFIX = 'BENCH-JSON ';

export const CELL_KEYS = ['wfPerSec', 'p50Ms', 'p99Ms', 'rssMB'] as const;
export const STATEMENT_WORKLOADS = ['W0', 'W3'] as const;

export function emptySummary(
  quick: boolean,
  concurrencies: readonly number[],
  recoveryWorkflows: number,
  fleet: { readonly processes: readonly number[]; readonly concurrency: number; readonly fenceConcurrencies: readonly number[] } = {
    processes: [1, 2, 4],
    concurrency: 16,
    fenceConcurrencies: [1, 16],
  },
): BenchSummary {
  const cells = (): Record<string, ThroughputCell> =>
    Object.fromEntries(concurrencies.map((c) => [String(c), { wfPerSec: null, p50Ms: null, p99Ms: null, rssMB: null }]));
  const perWorkload = (): Record<Workload, Record<string, ThroughputCell>> => ({ W0: cells(), W3: cells(), W3S: cells() });
  return {
    quick,
    ceiling: Object.fromEntries(concurrencies.map((c) => [String(c), null])),
    throughput: { operon: perWorkload(), dbos: perWorkload() },
    statements: { operon: { W0: null, W3: null }, dbos: { W0: null, W3: null } },
    recovery: { operon: { workflows: recoveryWorkflows, seconds: null }, dbos: { workflows: recoveryWorkflows, seconds: null } },
    coldStartMs: { operon: null, dbos: null },
    fleet: { concurrency: fleet.concurrency, processes: Object.fromEntries(fleet.processes.map((n) => [String(n), emptyFleetCell()])) },
    fencing: Object.fromEntries(fleet.fenceConcurrencies.map((c) => [String(c), emptyFenceCell()])),
  };
}

/** The median of several runs of one cell, field by field. */
export function medianCell(runs: readonly ThroughputResult[], median: (values: number[]) => number): ThroughputCell {
  if (runs.length === 0) return { wfPerSec: null, p50Ms: null, p99Ms: null, rssMB: null };
  return {
    wfPerSec: round(median(runs.map((r) => r.wfPerSec)), 1),
    p50Ms: round(median(runs.map((r) => r.p50Ms)), 2),
    p99Ms: round(median(runs.map((r) => r.p99Ms)), 2),
    rssMB: round(median(runs.map((r) => r.rssMB)), 1),
  };
}

export function benchJsonLine(summary: BenchSummary): string {
  return BENCH_JSON_PREFIX + JSON.stringify(summary);
}

/** The summary in the last line of `output`, or undefined if the last line is not a `BENCH-JSON` line. */
export function parseBenchJsonLine(output: string): unknown {
  const lines = output.trimEnd().split('\n');
  const last = lines[lines.length - 1] ?? '';
  if (!last.startsWith(BENCH_JSON_PREFIX)) return undefined;
  return JSON.parse(last.slice(BENCH_JSON_PREFIX.length));
}

export interface ShapeOptions {
  /** The concurrency keys expected (quick mode: 1 and 16; full: 1, 16, 64). */
  readonly concurrencies?: readonly number[];
  /** Accept `null` statement counts (a server without pg_stat_statements). */
  readonly statementsMayBeNull?: boolean;
  /** The fencing keys expected (quick and full: 1 and 16; tiny: 1). */
  readonly fenceConcurrencies?: readonly number[];
}

/**
 * Every way `value` differs from the BENCH-JSON shape: exactly these keys at every level, a number
 * in every leaf. An empty list means the shape is right.
 */
export function benchJsonProblems(value: unknown, options: ShapeOptions = {}): string[] {
  const problems: string[] = [];
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  const keys = (path: string, v: unknown, expected: readonly string[]): v is Record<string, unknown> => {
    if (!isObject(v)) {
      problems.push(`${path}: expected an object`);
      return false;
    }
    const got = Object.keys(v).sort();
    const want = [...expected].sort();
    if (got.join(',') !== want.join(',')) problems.push(`${path}: expected keys ${want.join(', ')}, got ${got.join(', ')}`);
    return true;
  };
  const number = (path: string, v: unknown, mayBeNull = false): void => {
    if (v === null && mayBeNull) return;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) problems.push(`${path}: expected a non-negative number, got ${JSON.stringify(v)}`);
  };
  const signed = (path: string, v: unknown): void => {
    if (typeof v !== 'number' || !Number.isFinite(v)) problems.push(`${path}: expected a number, got ${JSON.stringify(v)}`);
  };
  if (!keys('', value, ['quick', 'ceiling', 'throughput', 'statements', 'recovery', 'coldStartMs', 'fleet', 'fencing'])) return problems;
  if (typeof value['quick'] !== 'boolean') problems.push('quick: expected a boolean');
  const concurrencies = (options.concurrencies ?? (value['quick'] === true ? [1, 16] : [1, 16, 64])).map(String);
  if (keys('ceiling', value['ceiling'], concurrencies)) {
    for (const c of concurrencies) number(`ceiling.${c}`, value['ceiling'][c]);
  }
  if (keys('throughput', value['throughput'], FRAMEWORKS)) {
    for (const framework of FRAMEWORKS) {
      const byWorkload = value['throughput'][framework];
      if (!keys(`throughput.${framework}`, byWorkload, WORKLOADS)) continue;
      for (const workload of WORKLOADS) {
        const byConcurrency = byWorkload[workload];
        if (!keys(`throughput.${framework}.${workload}`, byConcurrency, concurrencies)) continue;
        for (const c of concurrencies) {
          const cell = byConcurrency[c];
          const path = `throughput.${framework}.${workload}.${c}`;
          if (!keys(path, cell, CELL_KEYS)) continue;
          for (const key of CELL_KEYS) number(`${path}.${key}`, cell[key]);
        }
      }
    }
  }
  if (keys('statements', value['statements'], FRAMEWORKS)) {
    for (const framework of FRAMEWORKS) {
      const counts = value['statements'][framework];
      if (!keys(`statements.${framework}`, counts, STATEMENT_WORKLOADS)) continue;
      for (const workload of STATEMENT_WORKLOADS) number(`statements.${framework}.${workload}`, counts[workload], options.statementsMayBeNull);
    }
  }
  if (keys('recovery', value['recovery'], FRAMEWORKS)) {
    for (const framework of FRAMEWORKS) {
      const recovery = value['recovery'][framework];
      if (!keys(`recovery.${framework}`, recovery, ['workflows', 'seconds'])) continue;
      number(`recovery.${framework}.workflows`, recovery['workflows']);
      number(`recovery.${framework}.seconds`, recovery['seconds']);
    }
  }
  if (keys('coldStartMs', value['coldStartMs'], FRAMEWORKS)) {
    for (const framework of FRAMEWORKS) number(`coldStartMs.${framework}`, value['coldStartMs'][framework]);
  }
  if (keys('fleet', value['fleet'], ['concurrency', 'processes'])) {
    number('fleet.concurrency', value['fleet']['concurrency']);
    if (keys('fleet.processes', value['fleet']['processes'], ['1', '2', '4'])) {
      for (const n of ['1', '2', '4']) {
        const cell = (value['fleet']['processes'] as Record<string, unknown>)[n];
        const path = `fleet.processes.${n}`;
        if (!keys(path, cell, FLEET_KEYS)) continue;
        for (const key of FLEET_KEYS) {
          const statement = key === 'statementsPerWorkflow' || key === 'heartbeatsPerSec';
          number(`${path}.${key}`, cell[key], statement && options.statementsMayBeNull);
        }
      }
    }
  }
  const fenceConcurrencies = (options.fenceConcurrencies ?? [1, 16]).map(String);
  if (keys('fencing', value['fencing'], fenceConcurrencies)) {
    for (const c of fenceConcurrencies) {
      const cell = value['fencing'][c];
      const path = `fencing.${c}`;
      if (!keys(path, cell, FENCE_KEYS)) continue;
      number(`${path}.fencedWfPerSec`, cell['fencedWfPerSec']);
      number(`${path}.unfencedWfPerSec`, cell['unfencedWfPerSec']);
      signed(`${path}.costPercent`, cell['costPercent']);
      signed(`${path}.usPerWorkflow`, cell['usPerWorkflow']);
    }
  }
  return problems;
}
