/**
 * `pnpm bench:retention [--workflows N] [--concurrency C] [--seconds S] [--statement-workflows F]`: how long retention
 * takes to delete N ended workflows (default 1,000,000, each with W3's records: two operation
 * outputs, a transaction output and its fence) and what it does to a W3 load running beside it.
 * The same W3 load is first measured for S seconds with nothing else running (the peer); then a
 * runtime with `management.retentionDays: 1` starts, sweeps at start, and the load runs until
 * the last old workflow is gone. Prints both loads' p50, p99, worst latency and longest gap
 * without a completed workflow, and their ratios.
 *
 * Then the statement alone, against its peer: F ended workflows (default 50,000; one root in eight
 * with a child and a grandchild) deleted by a walk of the family statement retention runs, and
 * the same set deleted by a walk of the statement it ran before it kept families together (each
 * workflow alone), twice each in turn, on one idle runtime: the walk's time and their ratio.
 */
import { performance } from 'node:perf_hooks';
import { OperonRuntime, createLogger, resolveConfig } from '@operon/runtime';
import { prepareDatabases, startBenchServer, withClient, type BenchServer } from './bench-server.js';
import { BenchOps } from './operon-app.js';
import { percentile, round } from './stats.js';
import { parseIntegerFlags, progressLog } from './script-cli.js';

const log = progressLog('retention');

interface Options {
  readonly workflows: number;
  readonly concurrency: number;
  readonly seconds: number;
  readonly 'statement-workflows': number;
}

function parse(argv: readonly string[]): Options {
  return parseIntegerFlags(argv, { workflows: 1_000_000, concurrency: 16, seconds: 10, 'statement-workflows': 50_000 },
    'usage: bench:retention [--workflows N] [--concurrency C] [--seconds S] [--statement-workflows F] (positive integers)',);
}

const DAY_MS = 86_400_000;
const SEED_CHUNK = 100_000;

/** N ended W3 workflows, ten days old, with their records in both databases. */
async function seed(server: BenchServer, system: string, app: string, workflows: number): Promise<void> {
  const at = Date.now() - 10 * DAY_MS;
  for (let from = 1; from <= workflows; from += SEED_CHUNK) {
    const to = Math.min(workflows, from + SEED_CHUNK - 1);
    const uuid = `'old-' || lpad(i::text, 8, '0')`;
    await withClient(server, system, async (client) => {
      await client.query(
        `INSERT INTO operon.workflow_status (workflow_uuid, status, workflow_name, executor_id, inputs, output, created_at, updated_at)
         SELECT ${uuid}, 'SUCCESS', 'BenchOps.w3', 'seed', '[1]', '"done"', $3::bigint, $3::bigint + 5 FROM generate_series($1::int, $2::int) i`,
        [from, to, at],
      );
      await client.query(
        `INSERT INTO operon.operation_outputs (workflow_uuid, function_id, function_name, output, created_at)
         SELECT ${uuid}, f, CASE f WHEN 0 THEN 'BenchOps.stepA' ELSE 'BenchOps.stepB' END, '{"step":"A"}', $3::bigint
         FROM generate_series($1::int, $2::int) i, (VALUES (0), (2)) AS fs(f)`,
        [from, to, at],
      );
    });
    await withClient(server, app, async (client) => {
      await client.query(
        `INSERT INTO operon.transaction_outputs (workflow_uuid, function_id, function_name, output, created_at)
         SELECT ${uuid}, 1, 'BenchOps.insertRow', '"1"', $3::bigint FROM generate_series($1::int, $2::int) i`,
        [from, to, at],
      );
      await client.query(`INSERT INTO operon.workflow_owners (workflow_uuid, owner, epoch) SELECT ${uuid}, 'seed', 0 FROM generate_series($1::int, $2::int) i`, [from, to]);
    });
    log(`seeded ${to} of ${workflows} ended workflows`);
  }
  await withClient(server, system, (client) => client.query('VACUUM ANALYZE operon.workflow_status, operon.operation_outputs'));
  await withClient(server, app, (client) => client.query('VACUUM ANALYZE operon.transaction_outputs, operon.workflow_owners'));
}

/** F ended workflows ten days old, as families: one root in ten has a child and a grandchild (`…~c0`, `…~c0~c0`). */
async function seedFamilies(server: BenchServer, system: string, workflows: number): Promise<void> {
  const at = Date.now() - 10 * DAY_MS;
  await withClient(server, system, async (client) => {
    await client.query(
      `INSERT INTO operon.workflow_status (workflow_uuid, status, workflow_name, executor_id, inputs, output, parent_uuid, created_at, updated_at)
       SELECT m.uuid, 'SUCCESS', 'BenchOps.w3', 'seed', '[1]', '"done"', m.parent, $2::bigint, $2::bigint + 5
       FROM generate_series(1, $1::int) i, LATERAL (SELECT 'fam-' || lpad(i::text, 8, '0') AS root) r,
         LATERAL (VALUES (r.root, NULL, 0), (r.root || '~c0', r.root, 1), (r.root || '~c0~c0', r.root || '~c0', 2)) AS m(uuid, parent, generation)
       WHERE m.generation = 0 OR i % 8 = 0
       LIMIT $1`,
      [workflows, at],
    );
    await client.query(
      `INSERT INTO operon.operation_outputs (workflow_uuid, function_id, function_name, output, created_at)
       SELECT workflow_uuid, 0, 'BenchOps.stepA', '{"step":"A"}', $1::bigint FROM operon.workflow_status WHERE workflow_uuid LIKE 'fam-%'`,
      [at],
    );
    await client.query('VACUUM ANALYZE operon.workflow_status, operon.operation_outputs');
  });
}

/**
 * The peer: the statement retention ran before it kept families together, which deletes each
 * ended workflow past the period alone, whatever its parent and children.
 */
const WORKFLOWS_ALONE = `WITH scanned AS (
    SELECT workflow_uuid FROM operon.workflow_status WHERE workflow_uuid > $3 ORDER BY workflow_uuid LIMIT $4
  ), doomed AS (
    SELECT w.workflow_uuid FROM operon.workflow_status w JOIN scanned s USING (workflow_uuid)
    WHERE w.status = ANY($1::text[]) AND w.created_at < $2 AND w.updated_at < $2
    FOR UPDATE OF w SKIP LOCKED
  ), outputs AS (
    DELETE FROM operon.operation_outputs o USING doomed d WHERE o.workflow_uuid = d.workflow_uuid
  ), events AS (
    DELETE FROM operon.workflow_events e USING doomed d WHERE e.workflow_uuid = d.workflow_uuid
  ), messages AS (
    DELETE FROM operon.notifications n USING doomed d WHERE n.destination_uuid = d.workflow_uuid
  ), keys AS (
    DELETE FROM operon.message_idempotency_keys k USING doomed d WHERE k.destination_uuid = d.workflow_uuid
  ), gone AS (
    DELETE FROM operon.workflow_status w USING doomed d WHERE w.workflow_uuid = d.workflow_uuid RETURNING w.workflow_uuid
  )
  SELECT (SELECT max(workflow_uuid) FROM scanned) AS last_uuid, array(SELECT workflow_uuid FROM gone) AS deleted`;

/** One walk of the table in batches of 500 by `batch`; its time in seconds and how many it deleted. */
async function walk(batch: (after: string) => Promise<{ deleted: string[]; lastUUID: string | undefined }>): Promise<{ seconds: number; deleted: number }> {
  const begin = performance.now();
  let deleted = 0;
  for (let after: string | undefined = ''; after !== undefined; ) {
    const result = await batch(after);
    deleted += result.deleted.length;
    after = result.lastUUID;
  }
  return { seconds: (performance.now() - begin) / 1000, deleted };
}

/** The family statement against its peer over the same seeded set, twice each in turn. */
async function statementAgainstPeer(server: BenchServer, system: string, runtime: OperonRuntime, workflows: number): Promise<string[]> {
  const before = Date.now() - DAY_MS;
  const families: number[] = [];
  const alone: number[] = [];
  const ended = ['SUCCESS', 'ERROR', 'CANCELLED', 'RETRIES_EXCEEDED'];
  for (let round = 1; round <= 2; round++) {
    await seedFamilies(server, system, workflows);
    const family = await walk((after) => runtime.systemDb.deleteEndedWorkflows(before, after, 500));
    families.push(family.seconds);
    await seedFamilies(server, system, workflows);
    const peer = await withClient(server, system, (client) =>
      walk(async (after) => {
        const { rows } = await client.query<{ last_uuid: string | null; deleted: string[] }>(WORKFLOWS_ALONE, [ended, before, after, 500]);
        return { deleted: rows[0]!.deleted, lastUUID: rows[0]!.last_uuid ?? undefined };
      }),
    );
    alone.push(peer.seconds);
    log(`round ${round}: families ${round2(family.seconds)} s (${family.deleted} deleted), each alone ${round2(peer.seconds)} s (${peer.deleted} deleted)`);
  }
  const best = (xs: number[]) => Math.min(...xs);
  return [
    '',
    `### The statement alone: ${workflows.toLocaleString('en-US')} ended workflows (one root in eight with a child and a grandchild), one idle runtime, best of two walks`,
    '',
    '| statement | walk s | workflows/s |',
    '| --- | --- | --- |',
    `| families together (retention now) | ${round2(best(families))} | ${Math.round(workflows / best(families)).toLocaleString('en-US')} |`,
    `| each workflow alone (the peer) | ${round2(best(alone))} | ${Math.round(workflows / best(alone)).toLocaleString('en-US')} |`,
    `| ratio (families ÷ alone) | ${round2(best(families) / best(alone))} | |`,
  ];
}

const round2 = (x: number) => round(x, 2);

interface LoadFigures {
  readonly workflows: number;
  readonly seconds: number;
  readonly wfPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** The longest time no workflow completed. */
  readonly longestGapMs: number;
}

/** Closed-loop W3 at `concurrency` until `done()` says so; latencies of every workflow. */
async function w3Load(runtime: OperonRuntime, concurrency: number, done: () => boolean): Promise<LoadFigures> {
  const latencies: number[] = [];
  let lastCompletion = performance.now();
  let longestGap = 0;
  const begin = performance.now();
  let input = 0;
  const loop = async () => {
    while (!done()) {
      const t0 = performance.now();
      const handle = await runtime.client.invoke(BenchOps).w3(input++);
      await handle.getResult();
      const t1 = performance.now();
      latencies.push(t1 - t0);
      longestGap = Math.max(longestGap, t1 - lastCompletion);
      lastCompletion = t1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  const seconds = (performance.now() - begin) / 1000;
  return {
    workflows: latencies.length,
    seconds: round(seconds, 1),
    wfPerSec: round(latencies.length / seconds, 1),
    p50Ms: round(percentile(latencies, 50), 2),
    p99Ms: round(percentile(latencies, 99), 2),
    maxMs: round(Math.max(...latencies), 2),
    longestGapMs: round(longestGap, 2),
  };
}

async function main(): Promise<void> {
  const options = parse(process.argv.slice(2));
  const server = await startBenchServer(log);
  const system = 'retention_bench_sys';
  const app = 'retention_bench_app';
  try {
    await prepareDatabases(server, [system, app], app);
    const configOf = (retentionDays?: number) =>
      resolveConfig(
        {
          database: { hostname: server.host, port: server.port, username: server.user, password: server.password, user_database: app, system_database: system },
          telemetry: { logs: { logLevel: 'warn' } },
          ...(retentionDays === undefined ? {} : { management: { retentionDays } }),
        },
        { file: '', appDir: process.cwd() },
      );
    const logger = createLogger('warn');
    const plain = await OperonRuntime.create({ config: configOf(), classes: [BenchOps], logger });
    await plain.recover();
    await seed(server, system, app, options.workflows);
    log(`W3 at concurrency ${options.concurrency} for ${options.seconds} s, nothing else running`);
    const until = performance.now() + options.seconds * 1000;
    const alone = await w3Load(plain, options.concurrency, () => performance.now() >= until);
    await plain.destroy();

    const left = () =>
      withClient(server, system, async (client) => {
        const { rows } = await client.query(`SELECT 1 FROM operon.workflow_status WHERE workflow_uuid >= 'old-' AND workflow_uuid < 'old.' LIMIT 1`);
        return rows.length > 0;
      });
    log(`a runtime with management.retentionDays: 1 starts and sweeps; W3 runs beside it until the last old workflow is gone`);
    const sweeping = await OperonRuntime.create({ config: configOf(1), classes: [BenchOps], logger });
    const sweepStart = performance.now();
    await sweeping.recover();
    let swept = false;
    let sweepSeconds = 0;
    const watch = (async () => {
      while (await left()) await new Promise((resolve) => setTimeout(resolve, 250));
      sweepSeconds = (performance.now() - sweepStart) / 1000;
      swept = true;
    })();
    const beside = await w3Load(sweeping, options.concurrency, () => swept);
    await watch;
    await sweeping.destroy();
    const remaining = await withClient(server, app, async (client) => {
      const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM operon.transaction_outputs WHERE workflow_uuid LIKE 'old-%'`);
      return Number(rows[0]!.n);
    });

    const row = (name: string, f: LoadFigures) =>
      `| ${name} | ${f.workflows} | ${f.wfPerSec} | ${f.p50Ms} | ${f.p99Ms} | ${f.maxMs} | ${f.longestGapMs} |`;
    const lines = [
      `### Retention: ${options.workflows.toLocaleString('en-US')} ended workflows deleted in ${round(sweepSeconds, 1)} s (${Math.round(options.workflows / sweepSeconds).toLocaleString('en-US')} workflows/s), W3 at concurrency ${options.concurrency} beside it`,
      '',
      '| W3 load | workflows | wf/s | p50 ms | p99 ms | worst ms | longest gap ms |',
      '| --- | --- | --- | --- | --- | --- | --- |',
      row('alone', alone),
      row('beside the sweep', beside),
      `| ratio (beside ÷ alone) | | ${round(beside.wfPerSec / alone.wfPerSec, 2)} | ${round(beside.p50Ms / alone.p50Ms, 2)} | ${round(beside.p99Ms / alone.p99Ms, 2)} | ${round(beside.maxMs / alone.maxMs, 2)} | ${round(beside.longestGapMs / alone.longestGapMs, 2)} |`,
      '',
      `Transaction outputs of deleted workflows left in the app database: ${remaining}.`,
    ];
    const idle = await OperonRuntime.create({ config: configOf(), classes: [BenchOps], logger });
    await idle.recover();
    try {
      lines.push(...(await statementAgainstPeer(server, system, idle, options['statement-workflows'])));
    } finally {
      await idle.destroy();
    }
    process.stdout.write(`${lines.join('\n')}\n`);
    process.stdout.write(`RETENTION-JSON ${JSON.stringify({ workflows: options.workflows, sweepSeconds: round(sweepSeconds, 2), alone, beside, remaining })}\n`);
  } finally {
    await server.stop();
  }
}

await main();
