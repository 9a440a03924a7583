/**
 * `pnpm bench:management [--workflows N] [--reads N]`: the management API's bounded costs.
 * 1. The first page of `GET /operon/workflows` for every filter it takes, alone and combined, and
 *    a page deep in, with N workflow rows (default 1,000,000): p50 and p95 of 200 reads each,
 *    beside the same reads with 1,000 rows (the peer), their ratio, and the plan's indexes.
 * 2. The list's index migration at N rows: its time and the worst stall of a concurrent writer,
 *    beside a plain CREATE INDEX of the same indexes.
 * 3. Cancelling a 1,000-workflow tree of 4 levels (1 + 9 + 90 + 900, all PENDING) in its one
 *    statement, beside cancelling a single workflow (the peer).
 */
import { performance } from 'node:perf_hooks';
import {
  OperonRuntime,
  SYSTEM_MIGRATIONS,
  cancelWorkflows,
  createLogger,
  listQuery,
  resolveConfig,
  workflowPage,
  type WorkflowFilter,
} from '@operon/runtime';
import { prepareDatabases, startBenchServer, withClient, type BenchServer } from './bench-server.js';
import { percentile, round } from './stats.js';
import { progressLog } from './script-cli.js';

const log = progressLog('management');

const USAGE = 'usage: bench:management [--workflows N ≥ 1000] [--reads N ≥ 20]';

function numberOption(argv: readonly string[], name: string, fallback: number, least: number): number {
  const i = argv.indexOf(name);
  if (i < 0) return fallback;
  const n = Number(argv[i + 1]);
  if (!Number.isInteger(n) || n < least) throw new Error(`${USAGE}; got ${name} ${argv[i + 1]}`);
  return n;
}

/**
 * `count` workflows a millisecond apart, shaped like a busy app's table rather than uniformly:
 * mostly SUCCESS (90%), ERROR 5%, PENDING 2%, ENQUEUED 2%, CANCELLED 1%; 20 names of which one is
 * rare (0.1%); 30% enqueued on one of four queues, one more queue rare (0.02%); five versions, each
 * a fifth of the table in time (as deploys follow one another), so an old version's rows are all
 * far from the newest end; 1% one-operation rows (not listed).
 */
async function seed(server: BenchServer, system: string, count: number): Promise<number> {
  const at = Date.now() - count;
  for (let from = 1; from <= count; from += 200_000) {
    const to = Math.min(count, from + 199_999);
    await withClient(server, system, (client) =>
      client.query(
        `INSERT INTO operon.workflow_status (workflow_uuid, status, workflow_name, kind, executor_id, inputs, queue_name, version, created_at, updated_at)
         SELECT 'seed-' || lpad(i::text, 8, '0'),
           CASE WHEN h < 90 THEN 'SUCCESS' WHEN h < 95 THEN 'ERROR' WHEN h < 97 THEN 'PENDING' WHEN h < 99 THEN 'ENQUEUED' ELSE 'CANCELLED' END,
           CASE WHEN i % 1000 = 7 THEN 'Shop.rare' ELSE 'Shop.w' || (i * 31 % 19) END,
           CASE WHEN i % 100 = 3 THEN 'operation' ELSE 'workflow' END,
           'seed', '[]',
           CASE WHEN i % 5000 = 11 THEN 'q-rare' WHEN i % 10 < 3 THEN 'q' || (i % 4) END,
           'v' || (i * 5 / ($4::int + 1)),
           $3::bigint + i, $3::bigint + i
         FROM (SELECT i, (i::bigint * 7919) % 100 AS h FROM generate_series($1::int, $2::int) i) s`,
        [from, to, at, count],
      ),
    );
  }
  // As autovacuum leaves a table in use: statistics, visibility map, hint bits set.
  await withClient(server, system, (client) => client.query('VACUUM ANALYZE operon.workflow_status'));
  return at;
}

/** Every filter the list takes, alone and in the combinations an operator uses, at `count` rows seeded by `seed`. */
function filters(count: number, at: number): Record<string, WorkflowFilter> {
  const middle = at + Math.floor(count / 2);
  const window = { createdAfter: middle - Math.floor(count / 20), createdBefore: middle + Math.floor(count / 20) };
  return {
    unfiltered: {},
    'status=PENDING': { status: ['PENDING'] },
    'status=ERROR,CANCELLED': { status: ['ERROR', 'CANCELLED'] },
    'name=Shop.w3': { name: 'Shop.w3' },
    'name=Shop.rare': { name: 'Shop.rare' },
    'queue=q1': { queue: 'q1' },
    'queue=q-rare': { queue: 'q-rare' },
    'version=v0 (oldest)': { version: 'v0' },
    'version=v4 (newest)': { version: 'v4' },
    'time range (middle 10%)': window,
    'createdBefore (oldest 10%)': { createdBefore: at + Math.floor(count / 10) },
    'status=ERROR name=Shop.w3': { status: ['ERROR'], name: 'Shop.w3' },
    'status=PENDING name=Shop.rare': { status: ['PENDING'], name: 'Shop.rare' },
    'status=ENQUEUED queue=q1': { status: ['ENQUEUED'], queue: 'q1' },
    'status=ERROR version=v0': { status: ['ERROR'], version: 'v0' },
    'status=ERROR time range': { status: ['ERROR'], ...window },
    'name=Shop.w3 time range': { name: 'Shop.w3', ...window },
    'queue=q1 time range': { queue: 'q1', ...window },
  };
}

async function timings(read: () => Promise<unknown>, times: number): Promise<{ p50: number; p95: number }> {
  for (let i = 0; i < 10; i++) await read();
  const ms: number[] = [];
  for (let i = 0; i < times; i++) {
    const t = performance.now();
    await read();
    ms.push(performance.now() - t);
  }
  return { p50: round(percentile(ms, 50), 2), p95: round(percentile(ms, 95), 2) };
}

interface PageFigure {
  readonly p50: number;
  readonly p95: number;
  /** The indexes the plan reads, and the buffers (8 kB pages) it touched, from EXPLAIN (ANALYZE, BUFFERS). */
  readonly plan: string;
}

/** The indexes a plan scans and the pages it touched. */
async function planOf(runtime: OperonRuntime, filter: WorkflowFilter, cursor?: string): Promise<string> {
  const { text, values } = listQuery(filter, 51, cursor);
  const { rows } = await runtime.systemDb.systemPool.query(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${text}`, values);
  const indexes = new Set<string>();
  const sorts: string[] = [];
  const visit = (node: Record<string, any>) => {
    if (node['Index Name']) indexes.add(node['Index Name']);
    if (node['Node Type'] === 'Seq Scan') indexes.add('SEQ SCAN');
    if (node['Node Type'] === 'Sort') sorts.push('sort');
    for (const child of node.Plans ?? []) visit(child);
  };
  const top = rows[0]['QUERY PLAN'][0].Plan;
  visit(top);
  const buffers = top['Shared Hit Blocks'] + top['Shared Read Blocks'];
  return `${[...indexes].join(' + ')}${sorts.length ? ' + sort' : ''}; ${buffers} buffers`;
}

async function pageFigures(runtime: OperonRuntime, count: number, at: number, times: number): Promise<Record<string, PageFigure>> {
  const figures: Record<string, PageFigure> = {};
  for (const [label, filter] of Object.entries(filters(count, at))) {
    figures[label] = { ...(await timings(() => workflowPage(runtime, filter, 50), times)), plan: await planOf(runtime, filter) };
  }
  let cursor = (await workflowPage(runtime, {}, 50)).nextCursor!;
  for (let i = 0; i < 100; i++) cursor = (await workflowPage(runtime, {}, 50, cursor)).nextCursor ?? cursor;
  figures['unfiltered, 100 pages deep'] = { ...(await timings(() => workflowPage(runtime, {}, 50, cursor), times)), plan: await planOf(runtime, {}, cursor) };
  return figures;
}

/**
 * What the list's index migration costs on this table: its time, and the worst latency a writer
 * updating random workflows' status rows saw meanwhile; beside the same indexes built by a plain
 * CREATE INDEX (the peer), which blocks every write for the whole build.
 */
async function migrationCost(server: BenchServer, system: string, runtime: OperonRuntime, count: number) {
  const migration = SYSTEM_MIGRATIONS.find((m) => m.sql.includes('workflow_status_queue_created'))!;
  const pool = runtime.systemDb.systemPool;
  const dropIndexes = () => pool.query('DROP INDEX operon.workflow_status_queue_created; DROP INDEX operon.workflow_status_version_created');
  const underWrites = async (build: () => Promise<unknown>) => {
    let writing = true;
    let worst = 0;
    let writes = 0;
    const writer = withClient(server, system, async (client) => {
      while (writing) {
        const t = performance.now();
        const uuid = `seed-${String(1 + Math.floor(Math.random() * count)).padStart(8, '0')}`;
        await client.query('UPDATE operon.workflow_status SET updated_at = updated_at + 1 WHERE workflow_uuid = $1', [uuid]);
        worst = Math.max(worst, performance.now() - t);
        writes++;
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    const t = performance.now();
    await build();
    const ms = performance.now() - t;
    await new Promise((resolve) => setTimeout(resolve, 200));
    writing = false;
    await writer;
    return { buildMs: round(ms, 0), worstWriteMs: round(worst, 1), writes };
  };
  // Its statements one at a time outside a transaction, as the migrator runs them.
  const statements = migration.sql
    .split('\n')
    .filter((line) => !line.startsWith('--'))
    .join('\n')
    .split(';')
    .map((statement) => statement.trim())
    .filter(Boolean);
  await dropIndexes();
  const concurrent = await underWrites(() => withClient(server, system, async (client) => {
    for (const statement of statements) await client.query(statement);
  }));
  await dropIndexes();
  const plainSql = migration.sql.replace(/CONCURRENTLY /g, '');
  const plain = await underWrites(() => withClient(server, system, (client) => client.query(`BEGIN; ${plainSql}; COMMIT`)));
  return { concurrent, plain };
}

/** A PENDING tree under `root`: 9 children, each with 10, each with 10 (1,000 workflows, 4 levels). */
async function seedTree(server: BenchServer, system: string, root: string): Promise<void> {
  await withClient(server, system, (client) =>
    client.query(
      `WITH l1 AS (SELECT $1 || '-' || a AS u, $1 AS p FROM generate_series(1, 9) a),
            l2 AS (SELECT l1.u || '-' || b AS u, l1.u AS p FROM l1, generate_series(1, 10) b),
            l3 AS (SELECT l2.u || '-' || c AS u, l2.u AS p FROM l2, generate_series(1, 10) c),
            every AS (SELECT $1 AS u, NULL AS p UNION ALL SELECT * FROM l1 UNION ALL SELECT * FROM l2 UNION ALL SELECT * FROM l3)
       INSERT INTO operon.workflow_status (workflow_uuid, status, workflow_name, executor_id, inputs, parent_uuid, created_at, updated_at)
       SELECT u, 'PENDING', 'Shop.tree', 'seed', '[]', p, 0, 0 FROM every`,
      [root],
    ),
  );
}

async function main(): Promise<void> {
  const workflows = numberOption(process.argv.slice(2), '--workflows', 1_000_000, 1000);
  const reads = numberOption(process.argv.slice(2), '--reads', 200, 20);
  const server = await startBenchServer(log);
  try {
    const figures: Record<string, unknown> = {};
    for (const [label, count] of [['peer', 1_000], ['large', workflows]] as const) {
      const system = `management_bench_${label}_sys`;
      const app = `management_bench_${label}_app`;
      await prepareDatabases(server, [system, app], app);
      const config = resolveConfig(
        {
          database: { hostname: server.host, port: server.port, username: server.user, password: server.password, user_database: app, system_database: system },
          telemetry: { logs: { logLevel: 'warn' } },
        },
        { file: '', appDir: process.cwd() },
      );
      const runtime = await OperonRuntime.create({ config, classes: [], logger: createLogger('warn'), executes: false });
      try {
        log(`seeding ${count.toLocaleString('en-US')} workflows`);
        const at = await seed(server, system, count);
        log('reading first pages');
        figures[label] = await pageFigures(runtime, count, at, reads);
        if (label === 'large') {
          await seedTree(server, system, 'tree');
          await seedTree(server, system, 'single');
          const t = performance.now();
          const tree = await cancelWorkflows(runtime.systemDb.systemPool, { workflowUUID: 'tree' }, { actor: 'bench' }, { appPool: runtime.systemDb.appPool });
          const treeMs = performance.now() - t;
          const s = performance.now();
          const one = await cancelWorkflows(runtime.systemDb.systemPool, { workflowUUID: 'single-1-1-1' }, { actor: 'bench' }, { appPool: runtime.systemDb.appPool });
          const singleMs = performance.now() - s;
          log('timing the index migration under writes');
          figures.migration = await migrationCost(server, system, runtime, count);
          figures.cancel = { treeWorkflows: tree.changed, treeMs: round(treeMs, 1), singleWorkflows: one.changed, singleMs: round(singleMs, 1), ratio: round(treeMs / singleMs, 1) };
        }
      } finally {
        await runtime.destroy();
      }
    }
    const peer = figures.peer as Record<string, PageFigure>;
    const large = figures.large as Record<string, PageFigure>;
    const lines = [
      `### Management: first page of GET /operon/workflows (limit 50) with ${workflows.toLocaleString('en-US')} rows, beside 1,000 rows (${reads} reads each)`,
      '',
      '| filter | p50 ms (1,000) | p95 ms (1,000) | p50 ms (large) | p95 ms (large) | p95 ratio | plan (large) |',
      '| --- | --- | --- | --- | --- | --- | --- |',
      ...Object.keys(large).map(
        (k) => `| ${k} | ${peer[k]!.p50} | ${peer[k]!.p95} | ${large[k]!.p50} | ${large[k]!.p95} | ${round(large[k]!.p95 / peer[k]!.p95, 2)} | ${large[k]!.plan} |`,
      ),
      '',
      `Index migration under writes: ${JSON.stringify(figures.migration)}`,
      `Cancel: ${JSON.stringify(figures.cancel)}`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    process.stdout.write(`MANAGEMENT-JSON ${JSON.stringify({ workflows, ...figures })}\n`);
  } finally {
    await server.stop();
  }
}

await main();
