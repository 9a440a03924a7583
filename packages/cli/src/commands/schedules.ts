/**
 * `operon schedules`: the app's `@Scheduled` workflows, each with its crontab, zone, catch-up
 * policy, last tick and next tick. `operon schedules backfill <Class.method> --from --to`: the
 * runs of that schedule's ticks in the window, each started once however often it is called (the
 * running executors run them). Both read the app's bundle and the database the config names; no
 * server is needed.
 */
import type { Command } from 'commander';
import type { ScheduleView } from '@operon/runtime';
import type { CliCommand } from '../cli-command.js';
import { withConfigOption, type ConfigOption } from '../cli-options.js';
import { OperonCliUsageError } from '../errors.js';
import { terminalSafe } from '../app/terminal-text.js';

interface SchedulesOptions extends ConfigOption {
  json?: boolean;
}

interface BackfillOptions extends ConfigOption {
  from: string;
  to: string;
}

export async function listSchedules(options: SchedulesOptions): Promise<void> {
  const [{ createLogger, loadConfig, scheduleViews }, { loadAppClasses }, { openRuntime }] = await Promise.all([
    import('@operon/runtime'),
    import('../app/load-bundle.js'),
    import('../app/open-runtime.js'),
  ]);
  const config = loadConfig(options.config, { overrides: { logLevel: 'warn' } });
  const classes = await loadAppClasses(config.runtimeConfig.entrypoint);
  const opened = await openRuntime(config, classes, createLogger(config.telemetry.logs.logLevel), { readOnly: true });
  let views: ScheduleView[];
  try {
    const runtime = opened.runtime;
    views = scheduleViews(runtime.schedules, await runtime.systemDb.listSchedules(), runtime.executor.deps.clock.now());
  } finally {
    await opened.close();
  }
  process.stdout.write(options.json ? `${JSON.stringify(views, null, 2)}\n` : formatSchedules(views));
}

export function formatSchedules(views: readonly ScheduleView[]): string {
  if (views.length === 0) return 'this app has no @Scheduled workflows\n';
  const table = [
    ['SCHEDULE', 'CRONTAB', 'TIMEZONE', 'CATCH UP', 'LAST TICK', 'NEXT TICK'],
    ...views.map((v) => [
      v.name,
      v.crontab ?? '(not in this app)',
      v.timezone ?? '-',
      v.catchUp === null ? '-' : v.catchUp === 'all' ? `all (max ${v.maxCatchUp})` : v.catchUp,
      v.lastTick ?? '-',
      v.nextTick ?? '-',
    ]),
  ];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((cells) => cells[i]!.length)));
  return table.map((cells) => terminalSafe(cells.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd())).join('\n') + '\n';
}

function instant(flag: string, value: string): number {
  // An ISO 8601 date and time with its offset (or Z): a bare local time would depend on this host's zone.
  const ms = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(value) ? Date.parse(value) : NaN;
  if (Number.isNaN(ms)) {
    throw new OperonCliUsageError(`operon schedules backfill: ${flag} must be an ISO 8601 instant with its offset, such as 2026-03-08T00:00:00Z, got ${JSON.stringify(value)}`);
  }
  return ms;
}

export async function backfill(name: string, options: BackfillOptions): Promise<void> {
  const from = instant('--from', options.from);
  const until = instant('--to', options.to);
  if (until < from) throw new OperonCliUsageError(`operon schedules backfill: --to (${options.to}) is before --from (${options.from})`);
  const [{ MAX_BACKFILL_TICKS, backfillSchedule, backfillTicks, createLogger, loadConfig }, { loadAppClasses }, { openRuntime }] = await Promise.all([
    import('@operon/runtime'),
    import('../app/load-bundle.js'),
    import('../app/open-runtime.js'),
  ]);
  const config = loadConfig(options.config, { overrides: { logLevel: 'warn' } });
  const classes = await loadAppClasses(config.runtimeConfig.entrypoint);
  const logger = createLogger(config.telemetry.logs.logLevel);
  // Registers as an executor (the runs are inserted for it), but never recovers nor schedules.
  const opened = await openRuntime(config, classes, logger, { executes: true });
  try {
    const runtime = opened.runtime;
    const schedule = runtime.schedules.find((s) => s.name === name);
    if (!schedule) {
      const known = runtime.schedules.map((s) => s.name);
      throw new OperonCliUsageError(
        `operon schedules backfill: ${JSON.stringify(name)} is not a schedule of this app; ${known.length ? `its schedules are ${known.join(', ')}` : 'it has no @Scheduled workflows'}`,
      );
    }
    const now = runtime.executor.deps.clock.now();
    if (until > now) throw new OperonCliUsageError(`operon schedules backfill: --to (${options.to}) is in the future; the executors run the ticks still to come`);
    // Retention deleted the runs of older ticks: a backfill cannot tell those that ran, and would start them again.
    const { retentionDays } = config.management;
    const kept = retentionDays === undefined ? undefined : now - retentionDays * 24 * 3_600_000;
    if (kept !== undefined && from < kept) {
      throw new OperonCliUsageError(
        `operon schedules backfill: --from (${options.from}) is older than the retention period (management.retentionDays: ${retentionDays}), ` +
          `whose runs retention deletes, so ticks that already ran would run again; backfill from ${new Date(kept).toISOString()} or later`,
      );
    }
    const ticks = backfillTicks(schedule, from, until);
    if (ticks.length > MAX_BACKFILL_TICKS) {
      throw new OperonCliUsageError(`operon schedules backfill: the window holds more than ${MAX_BACKFILL_TICKS} ticks of ${name}; backfill it in narrower windows`);
    }
    const result = await backfillSchedule(runtime, schedule, ticks);
    process.stdout.write(
      `${name}: ${result.ticks} ticks from ${new Date(from).toISOString()} to ${new Date(until).toISOString()}; ` +
        `${result.started} runs started (the running executors take them over), ${result.ticks - result.started} existed already\n`,
    );
  } finally {
    // Stopping hands the runs over: live executors adopt them at their next heartbeat.
    await opened.close();
  }
}

const schedules: CliCommand = {
  order: 75,
  register(program: Command): void {
    const command = withConfigOption(
      program
        .command('schedules')
        .description("list the app's @Scheduled workflows with their last and next tick; `backfill` runs the ticks of a window")
        .option('--json', 'print JSON, the shape GET /operon/schedules answers with'),
    ).action((options: SchedulesOptions) => listSchedules(options));
    withConfigOption(
      command
        .command('backfill')
        .description("start the runs of a schedule's ticks from --from to --to (both included), each once however often it is called")
        .argument('<schedule>', 'the schedule, Class.method')
        .requiredOption('--from <iso>', 'the first instant of the window, ISO 8601 with its offset (2026-03-08T00:00:00Z)')
        .requiredOption('--to <iso>', 'the last instant of the window, ISO 8601 with its offset; not in the future'),
    ).action((name: string, options: BackfillOptions) => backfill(name, options));
  },
};

export default schedules;
