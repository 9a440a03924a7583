/**
 * `operon workflows list|get|steps|cancel|resume|restart|fork`: the management API, straight on
 * the database the config names (no server). `--json` prints the shapes the HTTP API answers with;
 * without it, tables cut to the terminal's width. Changes are audited as `cli:<user>@<host>`.
 */
import { hostname, userInfo } from 'node:os';
import { InvalidArgumentError, type Command } from 'commander';
import type { ChangeResult, OperonRuntime, StepView, WorkflowDetailView, WorkflowSummaryView } from '@operon/runtime';
import type { CliCommand } from '../cli-command.js';
import { withConfigOption, type ConfigOption } from '../cli-options.js';
import { terminalSafe } from '../app/terminal-text.js';

interface WorkflowsOptions extends ConfigOption {
  json?: boolean;
  status?: string;
  name?: string;
  executor?: string;
  user?: string;
  parent?: string;
  queue?: string;
  createdAfter?: string;
  createdBefore?: string;
  limit?: string;
  cursor?: string;
  fromStep?: number;
  workflowUuid?: string;
  version?: string;
}

type RuntimeModule = typeof import('@operon/runtime');

/**
 * The runtime's module, loaded by each action when it starts rather than at the top of this file:
 * `operon --help` and flag errors start without it.
 */
const runtimeModule = (): Promise<RuntimeModule> => import('@operon/runtime');

/** Opens the runtime on the config's database, runs `work`, closes it. Reads open it read-only. */
async function withRuntime<T>(options: WorkflowsOptions, changes: boolean, work: (runtime: OperonRuntime) => Promise<T>): Promise<T> {
  const [{ createLogger, loadConfig }, { openRuntime }] = await Promise.all([runtimeModule(), import('../app/open-runtime.js')]);
  const config = loadConfig(options.config, { overrides: { logLevel: 'warn' } });
  const opened = await openRuntime(config, [], createLogger(config.telemetry.logs.logLevel), changes ? { executes: false } : { readOnly: true });
  try {
    return await work(opened.runtime);
  } finally {
    await opened.close();
  }
}

function print(options: WorkflowsOptions, value: unknown, text: () => string): void {
  process.stdout.write(options.json ? `${JSON.stringify(value, null, 2)}\n` : text());
}

/** `version` is a filter on list only: on resume it names the code to go on on. */
function filterOf({ parseFilter }: RuntimeModule, options: WorkflowsOptions, versionFilter = false) {
  const { status, name, executor, user, parent, queue, createdAfter, createdBefore } = options;
  return parseFilter({ status, name, executor, user, parent, queue, ...(versionFilter ? { version: options.version } : {}), createdAfter, createdBefore });
}

const actor = () => ({ actor: `cli:${userInfo().username}@${hostname()}` });

/** A table whose widest columns are cut (with …) so that every line fits `width`. */
export function formatTable(rows: readonly (readonly string[])[], width = process.stdout.columns): string {
  const cells = rows.map((row) => row.map((cell) => terminalSafe(cell)));
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((row) => row[i]!.length)));
  if (width !== undefined && width > 0) {
    // Narrow the widest column, one character at a time, until the line fits (never below 8).
    const total = () => widths.reduce((a, b) => a + b, 0) + 2 * (widths.length - 1);
    while (total() > width) {
      const widest = widths.indexOf(Math.max(...widths));
      if (widths[widest]! <= 8) break;
      widths[widest]!--;
    }
  }
  const cut = (cell: string, w: number) => (cell.length > w ? `${cell.slice(0, w - 1)}…` : cell.padEnd(w));
  return cells.map((row) => row.map((cell, i) => cut(cell, widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}

function listTable(workflows: readonly WorkflowSummaryView[], nextCursor: string | null): string {
  if (workflows.length === 0) return 'no workflows match\n';
  const table = formatTable([
    ['UUID', 'STATUS', 'NAME', 'EXECUTOR', 'CREATED'],
    ...workflows.map((w) => [w.workflowUUID, w.status, w.workflowName, w.executorId, w.createdAt]),
  ]);
  return nextCursor === null ? table : `${table}more: --cursor ${nextCursor}\n`;
}

function waitingText(view: WorkflowDetailView): string {
  const w = view.waitingOn;
  if (w === null) return '-';
  switch (w.kind) {
    case 'operation':
      return `running operation ${w.functionID} in executor ${w.executorId} (since ${w.since})`;
    case 'sleep':
      return `sleep until ${w.until}`;
    case 'recv':
      return `recv until ${w.until}`;
    case 'getEvent':
      return `getEvent until ${w.until}`;
    case 'child':
      return `child ${w.workflowUUID}`;
    case 'queue':
      return `a slot of queue ${w.queueName}: number ${w.position} in line${w.notBefore ? `, delayed until ${w.notBefore}` : ''}`;
    case 'adoption':
      return `adoption: executor ${w.executorId} is dead (last heartbeat ${w.lastHeartbeatAt}); adopted by ${w.adoptionDueBy}`;
    case 'version':
      return `an executor that can load version ${w.version}: it did not load on ${w.leftOn} (its log says why), which left it at ${w.since}`;
  }
}

function detailText(view: WorkflowDetailView): string {
  const lines: [string, string][] = [
    ['UUID', view.workflowUUID],
    ['STATUS', view.status + (view.stuck ? ' (stuck)' : '')],
    ['NAME', view.workflowName],
    ['EXECUTOR', view.executorId],
    ['USER', view.authenticatedUser || '-'],
    ['PARENT', view.parentUUID ?? '-'],
    ['QUEUE', view.queueName ?? '-'],
    ['VERSION', view.version ?? '-'],
    ['CREATED', view.createdAt],
    ['UPDATED', view.updatedAt],
    ['WAITING ON', waitingText(view)],
    ['INPUTS', JSON.stringify(view.inputs)],
    ['OUTPUT', JSON.stringify(view.output) ?? 'null'],
    ['ERROR', JSON.stringify((view.error as { message?: unknown } | null)?.message ?? null)],
    // A child its records started that is gone (removed alone) shows as REMOVED.
    ['CHILDREN', [...view.children.map((c) => `${c.workflowUUID} ${c.status}`), ...view.removedChildren.map((c) => `${c.workflowUUID} REMOVED`)].join(', ') || '-'],
  ];
  return formatTable(lines.map(([k, v]) => [k, v]));
}

/** What a messaging step addressed, as `topic "t" → uuid`, `key "k" of uuid`; '-' for other steps. */
export function targetText(target: StepView['target']): string {
  if (target === null) return '-';
  const parts: string[] = [];
  if ('topic' in target) parts.push(target.topic === null ? 'default topic' : `topic ${JSON.stringify(target.topic)}`);
  if (target.key !== undefined) parts.push(`key ${JSON.stringify(target.key)}`);
  if (target.destinationUUID !== undefined) parts.push(`→ ${target.destinationUUID}`);
  if (target.workflowUUID !== undefined) parts.push(`of ${target.workflowUUID}`);
  return parts.join(' ');
}

function stepsTable(steps: readonly StepView[]): string {
  if (steps.length === 0) return 'no operation recorded yet\n';
  return formatTable([
    ['ID', 'KIND', 'FUNCTION', 'TARGET', 'STARTED', 'ENDED', 'OUTCOME'],
    ...steps.map((s) => [
      String(s.functionID),
      s.kind,
      s.functionName,
      targetText(s.target),
      s.startedAt ?? '-',
      s.endedAt,
      s.error === null ? JSON.stringify(s.output) ?? 'null' : `error: ${JSON.stringify((s.error as { message?: unknown }).message)}`,
    ]),
  ]);
}

function changeText(verb: string) {
  return (result: ChangeResult) => () => `${verb} ${result.changed} workflow${result.changed === 1 ? '' : 's'}${result.workflowUUIDs.length > 0 && result.workflowUUIDs.length <= 20 ? `: ${result.workflowUUIDs.join(', ')}` : ''}\n`;
}

/** A change's time limits on each database, from the config (`management.appDeadlineMs`, `systemDeadlineMs`). */
function deadlinesOf(runtime: { readonly config: { readonly management: { readonly appDeadlineMs: number; readonly systemDeadlineMs: number } } }) {
  const { appDeadlineMs, systemDeadlineMs } = runtime.config.management;
  return { appDeadlineMs, systemDeadlineMs };
}

/** A bulk change by filter: one statement; a line on stderr says what is being done while it runs. */
async function change(uuid: string | undefined, options: WorkflowsOptions, verb: 'cancel' | 'resume'): Promise<void> {
  const rt = await runtimeModule();
  const { OperonManagementRequestError, cancelWorkflows, checkedMoveOf, resumeWorkflows } = rt;
  const target = uuid === undefined ? { filter: filterOf(rt, options) } : { workflowUUID: uuid };
  if (uuid === undefined) process.stderr.write(`${verb === 'cancel' ? 'cancelling' : 'resuming'} the workflows matching ${JSON.stringify(target.filter)}…\n`);
  if (options.version !== undefined && uuid === undefined) throw new OperonManagementRequestError('--version moves one workflow: give its uuid');
  const result = await withRuntime(options, true, async (runtime) =>
    verb === 'cancel'
      ? cancelWorkflows(runtime.systemDb.systemPool, target, actor(), { appPool: runtime.systemDb.appPool, ...deadlinesOf(runtime) })
      : resumeWorkflows(runtime.systemDb.systemPool, target, actor(), {
          moveTo: await checkedMoveOf(runtime, uuid ?? '', options.version),
          appPool: runtime.systemDb.appPool,
          ...deadlinesOf(runtime),
        }),
  );
  if (uuid === undefined) {
    print(options, { changed: result.changed }, changeText(verb === 'cancel' ? 'cancelled' : 'resumed')(result));
  } else {
    print(options, { changed: result.changed, workflowUUIDs: result.workflowUUIDs }, changeText(verb === 'cancel' ? 'cancelled' : 'resumed')(result));
  }
  if (verb === 'resume' && result.changed > 0 && !options.json) process.stderr.write('a live executor adopts them at its next heartbeat (or the next `operon start`)\n');
}

function parseStep(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('must be an operation id (an integer ≥ 0).');
  return Number(value);
}

function filterOptions(command: Command): Command {
  return command
    .option('--status <statuses>', 'PENDING, ENQUEUED, SUCCESS, ERROR, CANCELLED, RETRIES_EXCEEDED (comma-separated)')
    .option('--name <name>', 'the workflow function, Class.method')
    .option('--executor <id>', 'the executor id that runs it')
    .option('--user <user>', 'the user who started it')
    .option('--parent <uuid>', "a parent's children")
    .option('--queue <name>', 'the queue it was enqueued on')
    .option('--created-after <time>', 'ISO 8601 or epoch milliseconds')
    .option('--created-before <time>', 'ISO 8601 or epoch milliseconds');
}

const json = (command: Command) => command.option('--json', 'print JSON, the shape the HTTP API answers with');

const workflows: CliCommand = {
  order: 75,
  register(program: Command): void {
    const group = program.command('workflows').description('list, inspect, cancel, resume, restart and fork workflows, straight on the database');
    json(filterOptions(withConfigOption(group.command('list').description('list workflows, newest first'))))
      .option('--limit <n>', 'page size, 1 to 1000', '50')
      .option('--cursor <cursor>', 'the next page, as the previous one printed')
      .option('--version <hash>', 'the version (code hash) it runs on')
      .action(async (options: WorkflowsOptions) => {
        const rt = await runtimeModule();
        const page = await withRuntime(options, false, (runtime) => rt.workflowPage(runtime, filterOf(rt, options, true), rt.pageSize(options.limit), options.cursor));
        print(options, page, () => listTable(page.workflows, page.nextCursor));
      });
    json(withConfigOption(group.command('get <uuid>').description('one workflow: status, inputs, output, children, what it waits on'))).action(
      async (uuid: string, options: WorkflowsOptions) => {
        const { workflowDetail } = await runtimeModule();
        const view = await withRuntime(options, false, (runtime) => workflowDetail(runtime, uuid));
        print(options, view, () => detailText(view));
      },
    );
    json(withConfigOption(group.command('steps <uuid>').description("a workflow's recorded operations"))).action(async (uuid: string, options: WorkflowsOptions) => {
      const { workflowSteps } = await runtimeModule();
      const steps = await withRuntime(options, false, (runtime) => workflowSteps(runtime, uuid));
      print(options, { steps }, () => stepsTable(steps));
    });
    for (const verb of ['cancel', 'resume'] as const) {
      const command = json(
        filterOptions(
          withConfigOption(
            group
              .command(`${verb} [uuid]`)
              .description(
                verb === 'cancel'
                  ? 'cancel a workflow and its children (or, with filters and no uuid, every one they select)'
                  : 'resume a CANCELLED, ERROR or RETRIES_EXCEEDED workflow after its last record (or every one the filters select)',
              ),
          ),
        ),
      );
      if (verb === 'resume') command.option('--version <hash|latest>', 'go on on that version, only if its records agree with that code');
      command.action((uuid: string | undefined, options: WorkflowsOptions) => change(uuid, options, verb));
    }
    json(withConfigOption(group.command('restart <uuid>').description('start a new workflow with the same inputs'))).action(
      async (uuid: string, options: WorkflowsOptions) => {
        const { forkWorkflow } = await runtimeModule();
        const result = await withRuntime(options, true, (runtime) =>
          forkWorkflow(runtime.systemDb.systemPool, runtime.systemDb.appPool, uuid, { fromStep: 0 }, actor(), 'restart'),
        );
        print(options, { workflowUUID: result.workflowUUIDs[0] }, () => `restarted as ${result.workflowUUIDs[0]}\n`);
      },
    );
    json(withConfigOption(group.command('fork <uuid>').description("a new workflow that replays the original's operations before --from-step")))
      .requiredOption('--from-step <n>', 'the first operation id that runs anew', parseStep)
      .option('--workflow-uuid <uuid>', 'the new workflow UUID (default: a random one)')
      .option('--version <hash|latest>', "run it on that version (default: the original's), only if the records it keeps agree with that code")
      .action(async (uuid: string, options: WorkflowsOptions) => {
        const { forkMoveOf, forkWorkflow, parseFork } = await runtimeModule();
        const fork = parseFork({ fromStep: options.fromStep, ...(options.workflowUuid === undefined ? {} : { workflowUUID: options.workflowUuid }) });
        const result = await withRuntime(options, true, async (runtime) => {
          const move = await forkMoveOf(runtime, uuid, options.version, fork.fromStep);
          return forkWorkflow(runtime.systemDb.systemPool, runtime.systemDb.appPool, uuid, fork, actor(), 'fork', move);
        });
        print(options, { workflowUUID: result.workflowUUIDs[0] }, () => `forked as ${result.workflowUUIDs[0]}\n`);
      });
  },
};

export default workflows;
