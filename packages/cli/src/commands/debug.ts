/**
 * `operon debug -u <uuid>`: replay a recorded workflow in this process from its recorded inputs.
 * Every operation returns its recorded output (or throws its recorded error) and nothing runs or
 * is written: the databases are opened in read-only sessions. Prints each operation and where the
 * code diverges from the record (exit 1); an unknown UUID is exit 2.
 */
import { spawn } from 'node:child_process';
import type { Command } from 'commander';
import { createLogger, loadConfig, replayWorkflow, type ReplayReport } from '@operon/runtime';
import { OperonWorkflowNotFoundError } from '@operon/sdk';
import type { CliCommand } from '../cli-command.js';
import { withConfigOption, type ConfigOption } from '../cli-options.js';
import { OperonCliReplayDivergedError, OperonCliUsageError } from '../errors.js';
import { loadAppClasses } from '../app/load-bundle.js';
import { openRuntime } from '../app/open-runtime.js';
import { terminalSafe } from '../app/terminal-text.js';

interface DebugOptions extends ConfigOption {
  uuid: string;
  json?: boolean;
  inspect?: boolean;
  logLevel?: string;
}

export async function debugWorkflow(options: DebugOptions): Promise<void> {
  if (options.inspect) return relaunchUnderInspector();
  const config = loadConfig(options.config, { overrides: { logLevel: options.logLevel ?? 'warn' } });
  const classes = await loadAppClasses(config.runtimeConfig.entrypoint);
  const logger = createLogger(config.telemetry.logs.logLevel);
  const opened = await openRuntime(config, classes, logger, { readOnly: true });
  let report: ReplayReport;
  try {
    report = await replayWorkflow(opened.runtime, options.uuid);
  } catch (error) {
    if (error instanceof OperonWorkflowNotFoundError) throw new OperonCliUsageError(`operon debug: ${error.message}`);
    throw error;
  } finally {
    await opened.close();
  }
  process.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
  if (!report.matches) {
    throw new OperonCliReplayDivergedError(`operon debug: workflow ${report.workflowUUID} diverges from its record: ${report.divergence!.message}`);
  }
}

/** The trace for a person: one line per operation, then the result and the verdict. */
export function formatReport(report: ReplayReport): string {
  const lines = [`workflow ${report.workflowUUID}: ${report.workflowName}, recorded ${report.recordedStatus}`];
  const kindWidth = Math.max(0, ...report.operations.map((op) => op.kind.length));
  const nameWidth = Math.max(0, ...report.operations.map((op) => op.functionName.length));
  for (const op of report.operations) {
    const arrow = op.outcome === 'output' ? '→' : '✗';
    lines.push(`  #${String(op.functionID).padEnd(3)} ${op.kind.padEnd(kindWidth)}  ${op.functionName.padEnd(nameWidth)}  ${arrow} ${op.summary}`);
  }
  if (report.stoppedAt) lines.push(`stopped: ${report.stoppedAt.message}`);
  if (report.divergence) {
    lines.push(`DIVERGED${report.divergence.functionID === undefined ? '' : ` at operation ${report.divergence.functionID}`}: ${report.divergence.message}`);
  } else if (report.result && report.recordedStatus !== 'PENDING') {
    const shown = report.result.error ? `${report.result.error.name}: ${report.result.error.message}` : JSON.stringify(report.result.output);
    lines.push(`result: ${shown} (matches the recorded result)`);
  }
  return `${lines.map((line) => terminalSafe(line)).join('\n')}\n`;
}

/**
 * `--inspect`: run this same command again under the Node inspector, paused on its first line so
 * breakpoints can be set in the app's TypeScript (the bundle's source map maps them).
 */
function relaunchUnderInspector(): Promise<void> {
  const args = process.argv.slice(1).filter((arg) => arg !== '--inspect');
  return new Promise((_resolve, reject) => {
    const child = spawn(process.execPath, ['--inspect-brk', '--enable-source-maps', ...args], { stdio: 'inherit' });
    child.once('error', reject);
    // The child printed its own report and error line; this process only mirrors its exit code.
    child.once('exit', (code) => process.exit(code ?? 1));
  });
}

const debug: CliCommand = {
  order: 60,
  register(program: Command): void {
    withConfigOption(
      program
        .command('debug')
        .description('replay a recorded workflow from its record, touching nothing, and report any divergence')
        .requiredOption('-u, --uuid <workflow-uuid>', 'the UUID of the workflow to replay')
        .option('--json', 'print the report as JSON')
        .option('--inspect', 'run under the Node inspector (paused at start) to set breakpoints in your TypeScript')
        .option('-l, --log-level <level>', 'log level while replaying (default warn)'),
    ).action((options: DebugOptions) => debugWorkflow(options));
  },
};

export default debug;
