/**
 * `operon queues`: every queue on the app's system database, with its limits, its workflows by
 * status, the oldest waiting one and how many run in each executor. Reads the database the config
 * names; no server is needed.
 */
import type { Command } from 'commander';
import type { QueueView } from '@operon/runtime';
import type { CliCommand } from '../cli-command.js';
import { withConfigOption, type ConfigOption } from '../cli-options.js';

interface QueuesOptions extends ConfigOption {
  json?: boolean;
}

export async function listQueues(options: QueuesOptions): Promise<void> {
  const [{ createLogger, loadConfig, queueView }, { openRuntime }] = await Promise.all([import('@operon/runtime'), import('../app/open-runtime.js')]);
  const config = loadConfig(options.config, { overrides: { logLevel: 'warn' } });
  const opened = await openRuntime(config, [], createLogger(config.telemetry.logs.logLevel), { readOnly: true });
  let views: QueueView[];
  try {
    views = (await opened.runtime.systemDb.listQueues()).map(queueView);
  } finally {
    await opened.close();
  }
  process.stdout.write(options.json ? `${JSON.stringify(views, null, 2)}\n` : formatQueues(views));
}

const limit = (value: number | null) => (value === null ? '-' : String(value));

export function formatQueues(views: readonly QueueView[]): string {
  if (views.length === 0) return 'no queues on this database\n';
  const table = [
    ['QUEUE', 'CONCURRENCY', 'PER WORKER', 'RATE', 'PER PARTITION', 'ENQUEUED', 'PENDING', 'ENDED', 'OLDEST WAITING', 'RUNNING BY EXECUTOR'],
    ...views.map((view) => {
      const ended = Object.entries(view.counts).filter(([status]) => status !== 'ENQUEUED' && status !== 'PENDING').reduce((sum, [, n]) => sum + n, 0);
      return [
        view.name,
        limit(view.concurrency),
        limit(view.workerConcurrency),
        view.rateLimit ? `${view.rateLimit.limitPerPeriod}/${view.rateLimit.periodSec}s` : '-',
        limit(view.partitionConcurrency),
        String(view.counts.ENQUEUED ?? 0),
        String(view.counts.PENDING ?? 0),
        String(ended),
        view.oldestWaitingSince ?? '-',
        Object.entries(view.runningByExecutor).map(([id, n]) => `${id}=${n}`).join(' ') || '-',
      ];
    }),
  ];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((cells) => cells[i]!.length)));
  return table.map((cells) => cells.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}

const queues: CliCommand = {
  order: 75,
  register(program: Command): void {
    withConfigOption(
      program
        .command('queues')
        .description('list the queues on the system database: limits, workflows by status, oldest waiting, running per executor')
        .option('--json', 'print JSON, the shape GET /operon/queues answers with'),
    ).action((options: QueuesOptions) => listQueues(options));
  },
};

export default queues;
