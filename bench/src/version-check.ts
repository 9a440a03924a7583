/**
 * `pnpm bench:check [--workflows N]`: the per-workflow cost of `operon debug --check`, the replay
 * of every open workflow on a candidate bundle before a deploy (goal: <= 50 ms a workflow). N
 * workflows (default 1,000) each record one step and wait in recv; the runtime stops, leaving them
 * PENDING; a read-only runtime then replays them all twice: on the same code (every workflow
 * passes, so each is replayed to the end of its records) and on a candidate whose first step has
 * another name (every workflow diverges at operation 0). The peer is the floor any check pays: the
 * same pages of rows and records read with nothing replayed.
 */
import { performance } from 'node:perf_hooks';
import { Communicator, Workflow, type CommunicatorContext, type WorkflowContext } from '@operon/sdk';
import { OperonRuntime, checkOpenWorkflows, createLogger, resolveConfig, type FunctionRegistry } from '@operon/runtime';
import { prepareDatabases, startBenchServer, withClient } from './bench-server.js';
import { round } from './stats.js';
import { parseIntegerFlags, progressLog } from './script-cli.js';

const log = progressLog('check');

function parse(argv: readonly string[]): { workflows: number } {
  return parseIntegerFlags(argv, { workflows: 1_000 }, 'usage: bench:check [--workflows N] (a positive integer)');
}

/** Version `first` of the app: its workflow's first step is `first`, then it waits for a message. */
function ordersOf(first: 'reserve' | 'ship') {
  class Orders {
    @Communicator()
    static async reserve(_ctx: CommunicatorContext, id: number): Promise<string> {
      return `reserve-${id}`;
    }

    @Communicator()
    static async ship(_ctx: CommunicatorContext, id: number): Promise<string> {
      return `ship-${id}`;
    }

    @Workflow()
    static async process(ctx: WorkflowContext, id: number): Promise<string> {
      const step = await ctx.invoke(Orders)[first](id);
      const message = await ctx.recv<string>('go', 3_600);
      return `${step}:${message}`;
    }
  }
  return Orders;
}

async function main(): Promise<void> {
  const { workflows } = parse(process.argv.slice(2));
  const server = await startBenchServer(log);
  const system = 'check_bench_sys';
  const app = 'check_bench_app';
  try {
    await prepareDatabases(server, [system, app], app);
    const config = resolveConfig(
      {
        database: { hostname: server.host, port: server.port, username: server.user, password: server.password, user_database: app, system_database: system },
        telemetry: { logs: { logLevel: 'warn' } },
      },
      { file: '', appDir: process.cwd() },
    );
    const logger = createLogger('warn');
    const current = ordersOf('reserve');
    const writer = await OperonRuntime.create({ config, classes: [current], logger });
    await writer.recover();
    log(`starting ${workflows} workflows that record a step and wait in recv`);
    for (let from = 0; from < workflows; from += 100) {
      await Promise.all(
        Array.from({ length: Math.min(100, workflows - from) }, (_, i) => writer.client.invoke(current, { workflowUUID: `check-${String(from + i).padStart(6, '0')}` }).process(from + i)),
      );
    }
    const recorded = () =>
      withClient(server, system, async (client) => Number((await client.query(`SELECT count(*) AS n FROM operon.operation_outputs WHERE workflow_uuid LIKE 'check-%' AND function_id = 0`)).rows[0].n));
    while ((await recorded()) < workflows) await new Promise((resolve) => setTimeout(resolve, 200));
    await writer.destroy({ timeoutMs: 0 });

    const reader = await OperonRuntime.create({ config, classes: [current], logger, readOnly: true });
    try {
      // The floor: the same pages of open workflows and their records, nothing replayed.
      const readStart = performance.now();
      let after = '';
      let read = 0;
      for (;;) {
        const rows = await reader.systemDb.openWorkflows(after, 100);
        if (rows.length === 0) break;
        after = rows[rows.length - 1]!.workflowUUID;
        await reader.systemDb.loadRecords(rows.map((row) => row.workflowUUID));
        read += rows.length;
      }
      const readMs = performance.now() - readStart;

      const run = async (label: string, registry: FunctionRegistry) => {
        const start = performance.now();
        const report = await checkOpenWorkflows(reader, registry);
        const ms = performance.now() - start;
        log(`${label}: ${report.checked} checked, ${report.divergences.length} diverge, ${Math.round(ms)} ms`);
        return { checked: report.checked, diverging: report.divergences.length, ms };
      };
      const same = await run('same code', reader.registry);
      const candidate = await OperonRuntime.create({ config, classes: [ordersOf('ship')], logger, readOnly: true });
      let diverging;
      try {
        diverging = await run('a diverging candidate', candidate.registry);
      } finally {
        await candidate.destroy({ timeoutMs: 0 });
      }
      console.log(`\noperon debug --check over ${workflows} PENDING workflows (each one recorded step, then waiting in recv)\n`);
      console.log('| candidate | checked | diverging | total | per workflow | vs the 50 ms goal | vs reading alone |');
      console.log('|---|---|---|---|---|---|---|');
      for (const [label, r] of [['same code', same], ['first step renamed', diverging]] as const) {
        const each = r.ms / r.checked;
        console.log(`| ${label} | ${r.checked} | ${r.diverging} | ${Math.round(r.ms)} ms | ${round(each, 3)} ms | ${round(each / 50, 4)}x | ${round(r.ms / readMs, 2)}x |`);
      }
      console.log(`| (peer) reading the same rows and records | ${read} | - | ${Math.round(readMs)} ms | ${round(readMs / read, 3)} ms | - | 1x |`);
    } finally {
      await reader.destroy({ timeoutMs: 0 });
    }
  } finally {
    await server.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
