/**
 * `operon versions`: every version (bundle) an `operon start` stored on the app's system database,
 * first and last seen, its PENDING and ENQUEUED workflows, and the live executors that have it
 * loaded. Reads the database the config names; no server is needed.
 */
import type { Command } from 'commander';
import type { VersionView } from '@operon/runtime';
import type { CliCommand } from '../cli-command.js';
import { withConfigOption, type ConfigOption } from '../cli-options.js';

interface VersionsOptions extends ConfigOption {
  json?: boolean;
}

export async function listVersions(options: VersionsOptions): Promise<void> {
  const [{ createLogger, loadConfig, versionView }, { openRuntime }] = await Promise.all([import('@operon/runtime'), import('../app/open-runtime.js')]);
  const config = loadConfig(options.config, { overrides: { logLevel: 'warn' } });
  const opened = await openRuntime(config, [], createLogger(config.telemetry.logs.logLevel), { readOnly: true });
  let views: VersionView[];
  try {
    views = (await opened.runtime.systemDb.listVersions()).map(versionView);
  } finally {
    await opened.close();
  }
  process.stdout.write(options.json ? `${JSON.stringify(views, null, 2)}\n` : formatVersions(views));
}

export function formatVersions(views: readonly VersionView[]): string {
  if (views.length === 0) return 'no versions on this database (operon start stores the bundle it serves)\n';
  const table = [
    ['VERSION', 'FIRST SEEN', 'LAST SEEN', 'PENDING', 'WAITING FOR LOAD', 'ENQUEUED', 'SERVED BY', 'LOADED BY'],
    ...views.map((view) => [
      view.version,
      view.firstSeen,
      view.lastSeen,
      String(view.counts.PENDING),
      String(view.waitingForLoad),
      String(view.counts.ENQUEUED),
      view.servedBy.join(' ') || '-',
      view.loadedBy.join(' ') || '-',
    ]),
  ];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((cells) => cells[i]!.length)));
  return table.map((cells) => cells.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}

const versions: CliCommand = {
  order: 77,
  register(program: Command): void {
    withConfigOption(
      program
        .command('versions')
        .description('list the versions stored on the system database: first and last seen, open workflows, executors that have each loaded')
        .option('--json', 'print JSON, the shape GET /operon/versions answers with'),
    ).action((options: VersionsOptions) => listVersions(options));
  },
};

export default versions;
