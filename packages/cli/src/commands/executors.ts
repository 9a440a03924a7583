/**
 * `operon executors`: every executor registered on the app's system database (each `operon start`
 * registers one), with its host, pid, start, last heartbeat, whether it is alive and how many
 * PENDING workflows it holds. Reads the database the config names; no server is needed.
 */
import type { Command } from 'commander';
import type { ExecutorRow } from '@operon/runtime';
import type { CliCommand } from '../cli-command.js';
import { withConfigOption, type ConfigOption } from '../cli-options.js';

interface ExecutorsOptions extends ConfigOption {
  json?: boolean;
}

export async function listExecutors(options: ExecutorsOptions): Promise<void> {
  const [{ createLogger, executorView, loadConfig }, { openRuntime }] = await Promise.all([import('@operon/runtime'), import('../app/open-runtime.js')]);
  const config = loadConfig(options.config, { overrides: { logLevel: 'warn' } });
  const opened = await openRuntime(config, [], createLogger(config.telemetry.logs.logLevel), { readOnly: true });
  let rows: ExecutorRow[];
  try {
    rows = await opened.runtime.systemDb.listExecutors();
  } finally {
    await opened.close();
  }
  process.stdout.write(options.json ? `${JSON.stringify(rows.map(executorView), null, 2)}\n` : formatExecutors(rows));
}

export function formatExecutors(rows: readonly ExecutorRow[]): string {
  if (rows.length === 0) return 'no executors have registered on this database\n';
  const table = [
    ['EXECUTOR', 'HOST', 'PID', 'STARTED', 'LAST HEARTBEAT', 'STATE', 'WORKFLOWS'],
    ...rows.map((row) => [
      row.executorId,
      row.host,
      String(row.pid),
      new Date(row.startedAt).toISOString(),
      new Date(row.heartbeatAt).toISOString(),
      row.alive ? 'alive' : row.state === 'live' ? 'lapsed' : row.state,
      String(row.workflows),
    ]),
  ];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((cells) => cells[i]!.length)));
  return table.map((cells) => cells.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}

const executors: CliCommand = {
  order: 70,
  register(program: Command): void {
    withConfigOption(
      program
        .command('executors')
        .description('list the executors registered on the system database: alive or dead, and the workflows each holds')
        .option('--json', 'print JSON, the shape GET /operon/executors answers with'),
    ).action((options: ExecutorsOptions) => listExecutors(options));
  },
};

export default executors;
