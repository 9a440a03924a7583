/**
 * SQL statements per workflow, counted by the server: `pg_stat_statements` is reset while the
 * worker idles after its warm-up, the worker runs `count` workflows one after another, and the
 * calls recorded in the framework's databases (app and system together) are read back. The same
 * window is then measured again with the worker idle, and those background statements (pollers,
 * heartbeats) are subtracted, so the figure is what each workflow itself costs.
 *
 * Each way of counting misses something. pg_stat_statements misses repeated executions of a
 * prepared utility statement (postgres.js prepares `commit` once and executes it by name: counted
 * once). The server log (`log_statement = all`, read where the server is ours) has one line per
 * simple query or per execute, so several statements sent in one simple query are one line. Where
 * both are available the higher count is reported.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import { withClient, type ServerAddress } from './bench-server.js';
import type { WorkerProcess } from './worker-process.js';

export interface StatementLine {
  readonly database: string;
  /** Normalized text, whitespace collapsed. */
  readonly query: string;
  readonly perWorkflow: number;
}

export interface StatementCount {
  /** The higher of the two counts (only pg_stat_statements' where the log is not readable). */
  readonly perWorkflow: number;
  /** What pg_stat_statements counted (the breakdown below is its). */
  readonly pgStatStatementsPerWorkflow: number;
  /** What the server log counted, when it is readable. */
  readonly logPerWorkflow: number | undefined;
  /** Statements an idle worker sends in as long as the counted window lasted (watched for at least `minIdleMs`, scaled). */
  readonly background: number;
  readonly workflows: number;
  readonly lines: StatementLine[];
}

export interface Row {
  datname: string;
  query: string;
  calls: string;
}

/** Resets the counters of these databases only: other users of the server keep theirs. */
export async function reset(client: pg.Client, databases: readonly string[]): Promise<void> {
  await client.query('SELECT pg_stat_statements_reset(0, oid, 0) FROM pg_database WHERE datname = ANY($1)', [databases]);
}

export async function read(client: pg.Client, databases: readonly string[]): Promise<Row[]> {
  const { rows } = await client.query<Row>(
    `SELECT d.datname, s.query, s.calls::text AS calls
     FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
     WHERE d.datname = ANY($1) ORDER BY s.calls DESC, s.query`,
    [databases],
  );
  return rows;
}

const total = (rows: readonly Row[]): number => rows.reduce((sum, row) => sum + Number(row.calls), 0);

const LOGGED_STATEMENT = /\[\d+\] (\S*) LOG: {2}(?:statement: |execute [^:]*: )/;

function logSize(file: string | undefined): number {
  return file ? statSync(file).size : 0;
}

/** Statements the log shows between two byte offsets in `databases`. */
function countLogged(file: string, from: number, to: number, databases: readonly string[]): number {
  const length = to - from;
  if (length <= 0) return 0;
  const buffer = Buffer.alloc(length);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, buffer, 0, length, from);
  } finally {
    closeSync(fd);
  }
  let count = 0;
  for (const line of buffer.toString('utf8').split('\n')) {
    const match = LOGGED_STATEMENT.exec(line);
    if (match && databases.includes(match[1]!)) count++;
  }
  return count;
}

/** Drives a `statements` worker through its window; the worker is left to shut down. */
export async function countStatements(
  address: ServerAddress,
  statementLog: string | undefined,
  worker: WorkerProcess,
  databases: readonly string[],
  workflows: number,
  timeoutMs: number,
  /** The shortest idle watch for background statements (DBOS's pollers tick about once a second). */
  minIdleMs: number,
): Promise<StatementCount> {
  return withClient(address, 'postgres', async (client) => {
    await worker.expect('paused', timeoutMs);
    await reset(client, databases);
    const logStart = logSize(statementLog);
    const started = performance.now();
    worker.send({ type: 'go' });
    await worker.expect('done', timeoutMs);
    const windowMs = performance.now() - started;
    const logEnd = logSize(statementLog);
    const counted = await read(client, databases);
    // Background pollers tick on their own clocks: watch the idle worker for longer, then scale to the window.
    const idleMs = Math.max(windowMs, minIdleMs);
    await reset(client, databases);
    const idleLogStart = logSize(statementLog);
    await new Promise((resolve) => setTimeout(resolve, idleMs));
    const idle = await read(client, databases);
    const idleLogEnd = logSize(statementLog);
    worker.send({ type: 'go' });
    const scale = windowMs / idleMs;
    const background = total(idle) * scale;
    const pgStatStatementsPerWorkflow = (total(counted) - background) / workflows;
    const logPerWorkflow = statementLog
      ? (countLogged(statementLog, logStart, logEnd, databases) - countLogged(statementLog, idleLogStart, idleLogEnd, databases) * scale) / workflows
      : undefined;
    return {
      perWorkflow: Math.max(logPerWorkflow ?? 0, pgStatStatementsPerWorkflow),
      pgStatStatementsPerWorkflow,
      logPerWorkflow,
      background,
      workflows,
      lines: counted.map((row) => ({
        database: row.datname,
        query: row.query.replace(/\s+/g, ' ').trim(),
        perWorkflow: Number(row.calls) / workflows,
      })),
    };
  });
}
