/**
 * `operon debug -u <uuid>`: replay a recorded workflow in this process from its recorded inputs;
 * `operon debug --check [bundle]`: replay every open workflow on a candidate bundle before a deploy.
 * Every operation returns its recorded output (or throws its recorded error) and nothing runs or
 * is written: the databases are opened in read-only sessions. Prints each operation and where the
 * code diverges from the record (exit 1); an unknown UUID is exit 2.
 */
import { spawn } from 'node:child_process';
import type { Command } from 'commander';
import { resolve } from 'node:path';
import type { CheckedDivergence, CheckReport, ReplayReport } from '@operon/runtime';
import { OperonWorkflowNotFoundError } from '@operon/sdk';
import type { CliCommand } from '../cli-command.js';
import { withConfigOption, type ConfigOption } from '../cli-options.js';
import { OperonCliReplayDivergedError, OperonCliUsageError } from '../errors.js';
import { displayPath } from '../app/display-path.js';
import { terminalSafe } from '../app/terminal-text.js';

interface DebugOptions extends ConfigOption {
  uuid?: string;
  /** `--check` (the built entrypoint) or `--check <bundle>`. */
  check?: boolean | string;
  json?: boolean;
  inspect?: boolean;
  logLevel?: string;
}

export async function debugWorkflow(options: DebugOptions): Promise<void> {
  if (options.inspect) return relaunchUnderInspector();
  if (options.check !== undefined && options.check !== false) return checkBundle(options);
  if (options.uuid === undefined) throw new OperonCliUsageError('operon debug: give -u <workflow-uuid> to replay one workflow, or --check [bundle] to replay every open workflow on a bundle');
  const uuid = options.uuid;
  const [{ createLogger, loadConfig, replayWorkflow }, { loadAppClasses }, { openRuntime }] = await Promise.all([
    import('@operon/runtime'),
    import('../app/load-bundle.js'),
    import('../app/open-runtime.js'),
  ]);
  const config = loadConfig(options.config, { overrides: { logLevel: options.logLevel ?? 'warn' } });
  const classes = await loadAppClasses(config.runtimeConfig.entrypoint);
  const logger = createLogger(config.telemetry.logs.logLevel);
  const opened = await openRuntime(config, classes, logger, { readOnly: true });
  let report: ReplayReport;
  try {
    report = await replayWorkflow(opened.runtime, uuid);
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

/**
 * `--check [bundle]`: every open workflow (PENDING, and ENQUEUED, which a resume can leave with
 * records) replayed on the candidate bundle in read-only sessions; one line per divergence, exit 1
 * if there is any.
 */
async function checkBundle(options: DebugOptions): Promise<void> {
  if (options.uuid !== undefined) throw new OperonCliUsageError('operon debug: --check replays every open workflow; give it without -u');
  const [{ checkOpenWorkflows, createLogger, loadConfig }, { loadAppBundle }, { openRuntime }] = await Promise.all([
    import('@operon/runtime'),
    import('../app/load-bundle.js'),
    import('../app/open-runtime.js'),
  ]);
  const config = loadConfig(options.config, { overrides: { logLevel: options.logLevel ?? 'warn' } });
  const bundle = typeof options.check === 'string' ? resolve(options.check) : config.runtimeConfig.entrypoint;
  const { classes, stored } = await loadAppBundle(bundle);
  const logger = createLogger(config.telemetry.logs.logLevel);
  const opened = await openRuntime(config, classes, logger, { readOnly: true });
  const started = performance.now();
  let report: CheckReport;
  try {
    report = await checkOpenWorkflows(opened.runtime);
  } finally {
    await opened.close();
  }
  const ms = performance.now() - started;
  const summary = {
    bundle: displayPath(bundle),
    version: stored.version,
    checked: report.checked,
    ms: Math.round(ms),
    divergences: report.divergences,
  };
  if (options.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  else {
    process.stdout.write(report.divergences.map((d) => `${terminalSafe(formatDivergence(d))}\n`).join(''));
    const each = report.checked === 0 ? '' : `, ${(ms / report.checked).toFixed(1)} ms each`;
    process.stdout.write(`checked ${report.checked} open workflows on ${summary.bundle} (version ${stored.version}) in ${summary.ms} ms${each}: ${report.divergences.length} would diverge\n`);
  }
  if (report.divergences.length > 0) {
    throw new OperonCliReplayDivergedError(`operon debug --check: ${report.divergences.length} of ${report.checked} open workflows would diverge on ${summary.bundle}`);
  }
}

/** One line: the workflow, the operation, what its record holds and what the new code calls, and where. */
export function formatDivergence(d: CheckedDivergence): string {
  const { divergence } = d;
  const at = divergence.functionID === undefined ? '' : ` operation ${divergence.functionID}:`;
  let what: string;
  if (divergence.kind === 'different-function') what = `recorded ${divergence.recordedFunction}, new code calls ${divergence.newFunction}`;
  else if (divergence.kind === 'missing-operations') what = `recorded ${divergence.recordedFunction}, new code makes no such call`;
  else what = divergence.message;
  const where = divergence.location ? ` at ${displayPath(divergence.location)}` : '';
  return `${d.workflowUUID} (${d.workflowName}, ${d.status}, version ${d.version ?? 'none'}):${at} ${what}${where}`;
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
    if (report.divergence.location) lines.push(`  called at ${displayPath(report.divergence.location)}`);
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
        .description('replay a recorded workflow from its record, or every open one on a bundle (--check), touching nothing, and report any divergence')
        .option('-u, --uuid <workflow-uuid>', 'the UUID of the workflow to replay')
        .option('--check [bundle]', 'replay every PENDING and ENQUEUED workflow on a bundle (default: the built entrypoint) and list those that would diverge')
        .option('--json', 'print the report as JSON')
        .option('--inspect', 'run under the Node inspector (paused at start) to set breakpoints in your TypeScript')
        .option('-l, --log-level <level>', 'log level while replaying (default warn)'),
    ).action((options: DebugOptions) => debugWorkflow(options));
  },
};

export default debug;
