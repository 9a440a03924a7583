/**
 * `pnpm bench:management [--workflows N]`: the management API's two bounded costs.
 * 1. The first page of `GET /operon/workflows` (unfiltered, by status, by name, and a page deep
 *    in) with N workflow rows (default 1,000,000): p50 and p95 of 200 reads each, beside the
 *    same reads with 1,000 rows (the peer), and their ratio.
 * 2. Cancelling a 1,000-workflow tree of 4 levels (1 + 9 + 90 + 900, all PENDING) in its one
 *    statement, beside cancelling a single workflow (the peer).
 */
import { performance } from 'node:perf_hooks';
import { OperonRuntime, cancelWorkflows, createLogger, resolveConfig, workflowPage } from '@operon/runtime';
import { prepareDatabases, startBenchServer, withClient, type BenchServer } from './bench-server.js';
import { percentile, round } from './stats.js';

const started = performance.now();
const log = (line: string): void => {
  process.stderr.write(`[management ${((performance.now() - started) / 1000).toFixed(1)}s] ${line}\n`);
};

function workflowsOption(argv: readonly string[]): number {
  const i = argv.indexOf('--workflows');
  if (i < 0) return 1_000_000;
  const n = Number(argv[i + 1]);
  if (!Number.isInteger(n) || n < 1000) throw new Error(`usage: bench:management [--workflows N] (an integer ≥ 1000); got ${argv[i + 1]}`);
  return n;
}

/** `count` ended or pending workflows, a millisecond apart, of five names and four statuses. */
async function seed(server: BenchServer, system: string, count: number): Promise<void> {
  const at = Date.now() - count;
  for (let from = 1; from <= count; from += 200_000) {
    const to = Math.min(count, from + 199_999);
    await withClient(server, system, (client) =>
      client.query(
        `INSERT INTO operon.workflow_status (workflow_uuid, status, workflow_name, executor_id, inputs, created_at, updated_at)
         SELECT 'seed-' || lpad(i::text, 8, '0'), (ARRAY['SUCCESS','SUCCESS','ERROR','PENDING'])[1 + i % 4], 'Shop.w' || (i % 5), 'seed', '[]', $3::bigint + i, $3::bigint + i
         FROM generate_series($1::int, $2::int) i`,
        [from, to, at],
      ),
    );
  }
  await withClient(server, system, (client) => client.query('ANALYZE operon.workflow_status'));
}

async function timings(read: () => Promise<unknown>, times = 200): Promise<{ p50: number; p95: number }> {
  for (let i = 0; i < 10; i++) await read();
  const ms: number[] = [];
  for (let i = 0; i < times; i++) {
    const t = performance.now();
    await read();
    ms.push(performance.now() - t);
  }
  return { p50: round(percentile(ms, 50), 2), p95: round(percentile(ms, 95), 2) };
}

async function pageFigures(runtime: OperonRuntime) {
  const deep = (await workflowPage(runtime, {}, 50)).nextCursor!;
  let cursor = deep;
  for (let i = 0; i < 100; i++) cursor = (await workflowPage(runtime, {}, 50, cursor)).nextCursor ?? cursor;
  return {
    unfiltered: await timings(() => workflowPage(runtime, {}, 50)),
    byStatus: await timings(() => workflowPage(runtime, { status: ['PENDING'] }, 50)),
    byName: await timings(() => workflowPage(runtime, { name: 'Shop.w3' }, 50)),
    page100: await timings(() => workflowPage(runtime, {}, 50, cursor)),
  };
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
  const workflows = workflowsOption(process.argv.slice(2));
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
        await seed(server, system, count);
        log('reading first pages');
        figures[label] = await pageFigures(runtime);
        if (label === 'large') {
          await seedTree(server, system, 'tree');
          await seedTree(server, system, 'single');
          const t = performance.now();
          const tree = await cancelWorkflows(runtime.systemDb.systemPool, { workflowUUID: 'tree' }, { actor: 'bench' }, { appPool: runtime.systemDb.appPool });
          const treeMs = performance.now() - t;
          const s = performance.now();
          const one = await cancelWorkflows(runtime.systemDb.systemPool, { workflowUUID: 'single-1-1-1' }, { actor: 'bench' }, { appPool: runtime.systemDb.appPool });
          const singleMs = performance.now() - s;
          figures.cancel = { treeWorkflows: tree.changed, treeMs: round(treeMs, 1), singleWorkflows: one.changed, singleMs: round(singleMs, 1), ratio: round(treeMs / singleMs, 1) };
        }
      } finally {
        await runtime.destroy();
      }
    }
    const peer = figures.peer as Record<string, { p50: number; p95: number }>;
    const large = figures.large as Record<string, { p50: number; p95: number }>;
    const lines = [
      `### Management: first page of GET /operon/workflows (limit 50) with ${workflows.toLocaleString('en-US')} rows, beside 1,000 rows`,
      '',
      '| read | p50 ms (1,000) | p95 ms (1,000) | p50 ms (large) | p95 ms (large) | p95 ratio |',
      '| --- | --- | --- | --- | --- | --- |',
      ...Object.keys(large).map((k) => `| ${k} | ${peer[k]!.p50} | ${peer[k]!.p95} | ${large[k]!.p50} | ${large[k]!.p95} | ${round(large[k]!.p95 / peer[k]!.p95, 2)} |`),
      '',
      `Cancel: ${JSON.stringify(figures.cancel)}`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    process.stdout.write(`MANAGEMENT-JSON ${JSON.stringify({ workflows, ...figures })}\n`);
  } finally {
    await server.stop();
  }
}

await main();
