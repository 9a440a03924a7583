/** The command line: which size to run, which frameworks, which server. */
import { FRAMEWORKS, WORKLOADS, type Framework, type Workload } from './protocol.js';

export type Size = 'full' | 'quick' | 'tiny';

export interface BenchOptions {
  readonly size: Size;
  readonly frameworks: readonly Framework[];
  readonly concurrencies: readonly number[];
  readonly runs: number;
  readonly warmup: number;
  readonly timed: number;
  readonly recoveryWorkflows: number;
  readonly coldStartSamples: number;
  readonly ceilingWarmupMs: number;
  readonly ceilingMeasureMs: number;
  /** Workflows counted for statements per workflow (after a warm-up of `statementWarmup`). */
  readonly statementWorkflows: number;
  readonly statementWarmup: number;
  /** How long an idle worker is watched for background statements, at least. */
  readonly statementIdleMs: number;
  /** W0 and W3 are required; W3S is counted too where time allows. */
  readonly statementWorkloads: readonly Workload[];
  /** W3 with several Operon processes on one Postgres: how many processes in each run. */
  readonly fleetProcesses: readonly number[];
  /** Closed-loop concurrency of each of those processes, their warm-up and timed workflows each. */
  readonly fleetConcurrency: number;
  readonly fleetWarmup: number;
  readonly fleetTimed: number;
  /** Fenced against unfenced W3 writes: at these concurrencies, rounds of this long, this many of each. */
  readonly fenceConcurrencies: readonly number[];
  readonly fenceRoundMs: number;
  readonly fenceRounds: number;
  /** Start each framework once, uncounted, before the timed cold starts. */
  readonly coldStartDiscard: boolean;
  /** A worker that takes longer than this is killed and its figure reported as failed. */
  readonly workerDeadlineMs: number;
  /** Connections per pool for both frameworks (system pool and app pool each). */
  readonly poolSize: number;
  /** Run on this server instead of starting an embedded one. */
  readonly databaseUrl: string | undefined;
  /** Prefix of the databases the benchmark creates (and drops) on the server. */
  readonly databasePrefix: string;
  /** Where the full results go; '' for nowhere. */
  readonly output: string | undefined;
}

const SIZES: Record<Size, Omit<BenchOptions, 'size' | 'frameworks' | 'databaseUrl' | 'databasePrefix' | 'output' | 'poolSize'>> = {
  full: {
    concurrencies: [1, 16, 64],
    runs: 3,
    warmup: 300,
    timed: 3000,
    recoveryWorkflows: 2000,
    coldStartSamples: 7,
    ceilingWarmupMs: 1000,
    ceilingMeasureMs: 5000,
    statementWorkflows: 200,
    statementWarmup: 50,
    statementIdleMs: 5000,
    statementWorkloads: WORKLOADS,
    fleetProcesses: [1, 2, 4],
    fleetConcurrency: 16,
    fleetWarmup: 300,
    fleetTimed: 2000,
    fenceConcurrencies: [1, 16],
    fenceRoundMs: 3000,
    fenceRounds: 3,
    coldStartDiscard: true,
    workerDeadlineMs: 15 * 60_000,
  },
  quick: {
    concurrencies: [1, 16],
    runs: 1,
    warmup: 100,
    timed: 500,
    recoveryWorkflows: 500,
    coldStartSamples: 7,
    ceilingWarmupMs: 500,
    ceilingMeasureMs: 2000,
    statementWorkflows: 100,
    statementWarmup: 30,
    statementIdleMs: 5000,
    statementWorkloads: WORKLOADS,
    fleetProcesses: [1, 2, 4],
    fleetConcurrency: 16,
    fleetWarmup: 100,
    fleetTimed: 300,
    fenceConcurrencies: [1, 16],
    fenceRoundMs: 1000,
    fenceRounds: 2,
    coldStartDiscard: true,
    workerDeadlineMs: 5 * 60_000,
  },
  // For the unit test: every phase, on a handful of workflows.
  tiny: {
    concurrencies: [1],
    runs: 1,
    warmup: 5,
    timed: 20,
    recoveryWorkflows: 10,
    coldStartSamples: 1,
    ceilingWarmupMs: 100,
    ceilingMeasureMs: 300,
    statementWorkflows: 10,
    statementWarmup: 5,
    statementIdleMs: 0,
    statementWorkloads: ['W0', 'W3'],
    fleetProcesses: [1, 2, 4],
    fleetConcurrency: 2,
    fleetWarmup: 5,
    fleetTimed: 20,
    fenceConcurrencies: [1],
    fenceRoundMs: 300,
    fenceRounds: 1,
    coldStartDiscard: false,
    workerDeadlineMs: 2 * 60_000,
  },
};

export const USAGE = `usage: pnpm bench [--quick] [options]

  --quick                 reduced size: 500 timed workflows, one run, concurrency 1 and 16,
                          500 recovery workflows (a few minutes)
  --tiny                  a handful of workflows per phase, fsync off (the unit test's size)
  --frameworks a,b        run only these (operon, dbos); default both
  --database-url URL      use this Postgres instead of starting an embedded one
  --database-prefix NAME  prefix of the databases created on the server (default operon_bench)
  --output FILE           where the full results go (default bench/results/latest.json; '' for none)
`;

export function parseOptions(argv: readonly string[]): BenchOptions {
  let size: Size = 'full';
  let frameworks: Framework[] = [...FRAMEWORKS];
  let databaseUrl: string | undefined;
  let databasePrefix = 'operon_bench';
  let output: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = (): string => {
      const next = argv[++i];
      if (next === undefined) throw new Error(`${arg} needs a value\n\n${USAGE}`);
      return next;
    };
    switch (arg) {
      case '--':
        break;
      case '--quick':
        size = 'quick';
        break;
      case '--tiny':
        size = 'tiny';
        break;
      case '--frameworks':
        frameworks = value().split(',').map((name) => {
          if (!(FRAMEWORKS as readonly string[]).includes(name)) throw new Error(`unknown framework "${name}" (expected ${FRAMEWORKS.join(', ')})`);
          return name as Framework;
        });
        break;
      case '--database-url':
        databaseUrl = value();
        break;
      case '--database-prefix':
        databasePrefix = value();
        if (!/^[a-z_][a-z0-9_]*$/.test(databasePrefix)) throw new Error(`--database-prefix must match [a-z_][a-z0-9_]*, got "${databasePrefix}"`);
        break;
      case '--output':
        output = value();
        break;
      case '--help':
      case '-h':
        process.stdout.write(USAGE);
        process.exit(0);
        break;
      default:
        throw new Error(`unknown option "${arg}"\n\n${USAGE}`);
    }
  }
  return { size, frameworks, databaseUrl, databasePrefix, output, poolSize: 20, ...SIZES[size] };
}
