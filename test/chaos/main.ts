/**
 * `pnpm chaos [--duration SECONDS] [--seed N]`: runs the chaos harness, prints its report and,
 * as the very last line, `CHAOS-JSON {…}`. Exits 0 when every check passed, 1 when one failed,
 * 2 for a bad command line.
 */
import { ChaosUsageError, parseChaosOptions } from './chaos-options.js';
import { chaosJsonLine, formatReport } from './chaos-report.js';
import { runChaos } from './chaos-run.js';

/** The whole run is bounded too: setup, load, recovery, fuzzing and checks. */
const OVERALL_LIMIT_S = 1_200;

async function main(): Promise<number> {
  let options;
  try {
    options = parseChaosOptions(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof ChaosUsageError)) throw error;
    process.stderr.write(`${error.message}\n`);
    return 2;
  }
  const watchdog = setTimeout(() => {
    process.stderr.write(`chaos: the run took longer than ${options.durationS + OVERALL_LIMIT_S} s; giving up\n`);
    process.exit(1);
  }, (options.durationS + OVERALL_LIMIT_S) * 1000);
  const stop = (signal: NodeJS.Signals): void => {
    process.stderr.write(`chaos: ${signal}, stopping\n`);
    // The exit handler stops the app and Postgres.
    process.exit(130);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    const report = await runChaos(options, (line) => process.stdout.write(`${line}\n`));
    process.stdout.write(`${formatReport(report)}\n`);
    process.stdout.write(`${chaosJsonLine(report.json)}\n`);
    return report.passed ? 0 : 1;
  } finally {
    clearTimeout(watchdog);
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`chaos: the run failed: ${(error as Error)?.stack ?? String(error)}\n`);
    process.exitCode = 1;
  },
);
