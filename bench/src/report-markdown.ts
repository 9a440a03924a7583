/** The benchmark's markdown tables: every figure with the Operon ÷ DBOS ratio beside it. */
import { WORKLOADS, type Framework, type Workload } from './protocol.js';
import { STATEMENT_WORKLOADS, type BenchSummary } from './report.js';

export interface StatementBreakdown {
  readonly framework: Framework;
  readonly workload: string;
  readonly lines: readonly { database: string; query: string; perWorkflow: number }[];
  readonly background: number;
  readonly pgStatStatementsPerWorkflow: number;
  readonly logPerWorkflow: number | undefined;
}

export interface ReportExtras {
  /** One line on the machine and the run (cores, Node, Postgres, date). */
  readonly environment: string;
  /** Per-workflow statement breakdowns to print under the statement table. */
  readonly breakdowns: readonly StatementBreakdown[];
  /** W3S statements per workflow, reported beside the required W0 and W3. */
  readonly extraStatements: Partial<Record<Framework, Partial<Record<Workload, number | null>>>>;
}

const fmt = (value: number | null | undefined, digits = 1): string =>
  value === null || value === undefined ? 'n/a' : value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** Operon ÷ DBOS, as `2.31×`. */
export function ratio(operon: number | null | undefined, dbos: number | null | undefined): string {
  if (operon === null || operon === undefined || dbos === null || dbos === undefined || dbos === 0) return 'n/a';
  return `${(operon / dbos).toFixed(2)}×`;
}

const percent = (part: number | null, whole: number | null | undefined): string =>
  part === null || whole === null || whole === undefined || whole === 0 ? 'n/a' : `${((100 * part) / whole).toFixed(1)}%`;

/** A markdown table; the first column (and any in `leftAligned`) left-aligned, the rest right-aligned. */
function table(header: readonly string[], rows: readonly (readonly string[])[], leftAligned: readonly number[] = []): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  const align = header.map((_, i) => (i === 0 || leftAligned.includes(i) ? '---' : '---:'));
  return [line(header), line(align), ...rows.map(line)].join('\n');
}

export function renderMarkdown(summary: BenchSummary, extras: ReportExtras): string {
  const concurrencies = Object.keys(summary.ceiling);
  const out: string[] = [];
  out.push(`# Operon vs DBOS Transact${summary.quick ? ' (quick mode)' : ''}`, '', extras.environment, '');

  out.push('## Commit ceiling', '', 'Autocommit single-row INSERTs per second through `pg`.', '');
  out.push(table(['clients', 'INSERT/s'], concurrencies.map((c) => [c, fmt(summary.ceiling[c] ?? null, 0)])), '');

  out.push('## Throughput', '', 'Workflows per second (higher is better); latency and peak RSS (lower is better). Ratios are Operon ÷ DBOS.', '');
  for (const workload of WORKLOADS) {
    const isW3 = workload === 'W3';
    const header = [
      'concurrency',
      'Operon wf/s', 'DBOS wf/s', '÷',
      'Operon p50 ms', 'DBOS p50 ms', '÷',
      'Operon p99 ms', 'DBOS p99 ms', '÷',
      'Operon RSS MB', 'DBOS RSS MB', '÷',
      ...(isW3 ? ['Operon / ceiling', 'DBOS / ceiling'] : []),
    ];
    const rows = concurrencies.map((c) => {
      const o = summary.throughput.operon[workload][c]!;
      const d = summary.throughput.dbos[workload][c]!;
      return [
        c,
        fmt(o.wfPerSec), fmt(d.wfPerSec), ratio(o.wfPerSec, d.wfPerSec),
        fmt(o.p50Ms, 2), fmt(d.p50Ms, 2), ratio(o.p50Ms, d.p50Ms),
        fmt(o.p99Ms, 2), fmt(d.p99Ms, 2), ratio(o.p99Ms, d.p99Ms),
        fmt(o.rssMB), fmt(d.rssMB), ratio(o.rssMB, d.rssMB),
        ...(isW3 ? [percent(o.wfPerSec, summary.ceiling[c]), percent(d.wfPerSec, summary.ceiling[c])] : []),
      ];
    });
    out.push(`### ${workload}`, '', table(header, rows), '');
  }

  out.push(
    '## SQL statements per workflow',
    '',
    'Counted by the server, app and system databases together, background statements subtracted (lower is better): ' +
      'the higher of pg_stat_statements (which counts a prepared utility statement, such as a named `commit`, only once) ' +
      'and the server log with `log_statement = all` (one line per simple query or execute).',
    '',
  );
  const statementRows: string[][] = STATEMENT_WORKLOADS.map((w) => [w, fmt(summary.statements.operon[w]), fmt(summary.statements.dbos[w]), ratio(summary.statements.operon[w], summary.statements.dbos[w])]);
  const w3s = { operon: extras.extraStatements.operon?.W3S ?? null, dbos: extras.extraStatements.dbos?.W3S ?? null };
  if (w3s.operon !== null || w3s.dbos !== null) statementRows.push(['W3S', fmt(w3s.operon), fmt(w3s.dbos), ratio(w3s.operon, w3s.dbos)]);
  out.push(table(['workload', 'Operon', 'DBOS', '÷'], statementRows), '');
  for (const breakdown of extras.breakdowns) {
    out.push(
      `<details><summary>${breakdown.framework} ${breakdown.workload}: where each statement goes ` +
        `(pg_stat_statements ${fmt(breakdown.pgStatStatementsPerWorkflow, 2)}, statement log ${fmt(breakdown.logPerWorkflow, 2)} per workflow; ` +
        `${fmt(breakdown.background, 1)} background statements while idle)</summary>`,
      '',
      table(
        ['database', 'per workflow', 'statement'],
        breakdown.lines.map((l) => [l.database, fmt(l.perWorkflow, 2), `\`${l.query.slice(0, 110).replace(/\|/g, '\\|')}\``]),
        [2],
      ),
      '',
      '</details>',
      '',
    );
  }

  const workflows = summary.recovery.operon.workflows;
  out.push('## Recovery', '', `${workflows} workflows blocked after one step, SIGKILL, a new process: seconds from its spawn until all are SUCCESS (lower is better).`, '');
  out.push(table(['workflows', 'Operon s', 'DBOS s', '÷'], [[String(workflows), fmt(summary.recovery.operon.seconds, 2), fmt(summary.recovery.dbos.seconds, 2), ratio(summary.recovery.operon.seconds, summary.recovery.dbos.seconds)]]), '');

  const fleet = summary.fleet;
  const singleW3 = summary.statements.operon.W3;
  out.push(
    '## Many Operon processes on one Postgres',
    '',
    `W3 with 1, 2 and 4 Operon processes on this one server, each its own executor (lease, heartbeat, fenced writes) at concurrency ${fleet.concurrency}, ` +
      'started together; workflows per second of all processes together. Statements counted by the server over the timed window, ' +
      `every process and its heartbeats included, against the single process's W3 (${fmt(singleW3)}).`,
    '',
  );
  const fleetRows = Object.entries(fleet.processes).map(([n, cell]) => [
    n,
    fmt(cell.wfPerSec),
    cell.vsOneProcess === null ? 'n/a' : `${cell.vsOneProcess.toFixed(2)}×`,
    fmt(cell.p50Ms, 2),
    fmt(cell.p99Ms, 2),
    fmt(cell.statementsPerWorkflow, 2),
    cell.statementsPerWorkflow === null || singleW3 === null ? 'n/a' : `${cell.statementsPerWorkflow - singleW3 >= 0 ? '+' : ''}${(cell.statementsPerWorkflow - singleW3).toFixed(2)}`,
    fmt(cell.heartbeatsPerSec, 2),
  ]);
  out.push(table(['processes', 'wf/s', '÷ 1 process', 'p50 ms', 'p99 ms', 'statements/wf', 'vs 1 process W3', 'heartbeats/s'], fleetRows), '');
  out.push(
    '### The cost of fencing',
    '',
    "W3's writes as the runtime sends them (start, two records, the transaction with its output, the end: 8 statements), fenced, " +
      'against the same 8 statements without the owner check, alternating rounds on the same connections. The fence adds no statement; ' +
      'this is what its row lock and the owner row in the app database cost.',
    '',
  );
  const fenceRows = Object.entries(summary.fencing).map(([c, cell]) => [
    c,
    fmt(cell.fencedWfPerSec),
    fmt(cell.unfencedWfPerSec),
    cell.costPercent === null ? 'n/a' : `${cell.costPercent.toFixed(1)}%`,
    fmt(cell.usPerWorkflow, 0),
  ]);
  out.push(table(['concurrency', 'fenced wf/s', 'unfenced wf/s', 'cost', 'µs per workflow'], fenceRows), '');

  out.push('## Cold start', '', 'Spawn to ready to run workflows, system schema already migrated; median (lower is better).', '');
  out.push(table(['', 'Operon ms', 'DBOS ms', '÷'], [['cold start', fmt(summary.coldStartMs.operon, 0), fmt(summary.coldStartMs.dbos, 0), ratio(summary.coldStartMs.operon, summary.coldStartMs.dbos)]]), '');
  return out.join('\n');
}
