/**
 * One chaos run, start to end:
 *   1. its own Postgres in a temp folder, with the harness's proxy in front of it; the app built
 *      and migrated; several `operon start` runtimes serving it on their own ports (their
 *      connections through the proxy), the clients' requests spread over them; the collector
 *      workflows started;
 *   2. load and faults together for `durationS` seconds: the orders, and beside them the saga,
 *      fan-out, values and identity workloads; runtimes killed, paused and restarted, the time
 *      each one's workflows took to be adopted watched in the system database;
 *   3. the final recovery: Postgres and every runtime up, every outstanding order and piece of
 *      work retried until it completes (bounded);
 *   4. the held round: workflows parked at a wait, every runtime SIGKILLed under them, all
 *      restarted, and the workflows released, so each finishes in a recovered run;
 *   5. the HTTP and config fuzzing passes against the recovered server;
 *   6. the collectors stopped, then the consistency checks and each workload's check; the report.
 * Every child process, the proxy and the Postgres server are stopped on the way out, on failure too.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdoptionWatch } from './adoption-watch.js';
import { prepareApp, type ChaosApp } from './app-folder.js';
import type { ChaosOptions } from './chaos-options.js';
import { percentile, type ChaosReport, type WorkloadFigures } from './chaos-report.js';
import { CarefulClient } from './careful-client.js';
import { checkConsistency, type ExpectedOrder } from './consistency-checks.js';
import { fuzzConfig } from './config-fuzzer.js';
import { FaultInjector } from './fault-injector.js';
import { FanoutWorkload } from './fanout-workload.js';
import { heldRound, type HeldRound } from './held-round.js';
import { IdentityWorkload } from './identity-workload.js';
import { LedgerWorkload } from './ledger-workload.js';
import { PostgresProxy } from './postgres-proxy.js';
import { ValuesWorkload } from './values-workload.js';
import type { Workload } from './workload.js';
import { HttpFuzzer, type FuzzSummary } from './http-fuzzer.js';
import { LoadGenerator } from './load-clients.js';
import { PostgresServer } from './postgres-server.js';
import { RuntimeFleet } from './runtime-fleet.js';
import { encodeRequest, rawExchange } from './raw-http.js';
import { SeededRandom } from './seeded-random.js';
import { Timeline } from './timeline.js';

const COLLECTORS = 4;
/** How long outstanding orders are retried after the final recovery before they count as lost. */
const DRAIN_MS = 120_000;
/** The held round: values workflows and fan-outs parked at a wait when `operon start` is SIGKILLed. */
const HELD_VALUES = 6;
const HELD_FANOUTS = 3;
/** Problems of each workload listed in the report; the rest go to a file in the run folder. */
const PROBLEMS_SHOWN = 6;
const ATTEMPT_TIMEOUT_MS = 30_000;

/** What the setup made, for the phases after it. */
interface Stage {
  readonly options: ChaosOptions;
  readonly timeline: Timeline;
  readonly rng: SeededRandom;
  readonly root: string;
  readonly postgres: PostgresServer;
  readonly fleet: RuntimeFleet;
  readonly watch: AdoptionWatch;
  readonly app: ChaosApp;
  readonly fuzzPort: number;
  readonly proxy: PostgresProxy;
}

/** The workloads beside the order load. */
interface Workloads {
  readonly ledger: LedgerWorkload;
  readonly fanout: FanoutWorkload;
  readonly values: ValuesWorkload;
  readonly identity: IdentityWorkload;
  readonly all: readonly Workload[];
  readonly client: CarefulClient;
}

interface Outcome {
  readonly load: LoadGenerator;
  readonly workloads: Workloads;
  readonly held: HeldRound;
  readonly faults: FaultInjector;
  readonly httpFuzzer: HttpFuzzer;
  readonly fuzz: FuzzSummary[];
  readonly collected: number;
}

export async function runChaos(options: ChaosOptions, print: (line: string) => void): Promise<ChaosReport> {
  const timeline = new Timeline(print);
  // The server's user (postgres, under root) must reach the data folder through this one.
  const root = mkdtempSync(join(tmpdir(), 'operon-chaos-'));
  chmodSync(root, 0o755);
  let postgres: PostgresServer | undefined;
  let fleet: RuntimeFleet | undefined;
  let watch: AdoptionWatch | undefined;
  let proxy: PostgresProxy | undefined;
  const cleanUpNow = (): void => {
    fleet?.killNow();
    postgres?.stopNow();
  };
  process.on('exit', cleanUpNow);
  let passed = false;
  try {
    timeline.log(`seed ${options.seed}, ${options.durationS} s of load, ${options.clients} clients, ${options.runtimes} runtimes; working in ${root}`);
    const [pgPort, fuzzPort, proxyPort, ...runtimePorts] = await freePorts(3 + options.runtimes);
    const httpPort = runtimePorts[0]!;
    postgres = await PostgresServer.create(root, pgPort);
    proxy = new PostgresProxy({ host: '127.0.0.1', port: pgPort });
    await proxy.listen(proxyPort);
    timeline.log(`Postgres is up on 127.0.0.1:${pgPort}; the app reaches it through the proxy on port ${proxyPort}`);
    const rng = new SeededRandom(options.seed);
    const collectorRng = rng.fork('collectors');
    const collectors = Array.from({ length: COLLECTORS }, () => `collector-${collectorRng.uuid()}`);
    const app = await prepareApp(root, { pgPort: proxyPort, httpPort, collectors });
    timeline.log('the app is built (operon build) and migrated (operon migrate)');
    const pg = postgres;
    fleet = new RuntimeFleet(app, runtimePorts, timeline, () => pg.isRunning && !timeline.outages.some((o) => o.toMs === undefined));
    await fleet.startAll();
    timeline.log(`${options.runtimes} runtimes are serving: ${fleet.runtimes.map((r) => `${r.name} ${r.baseUrl} (${r.runtime.executorId ?? 'generated executor id'})`).join(', ')}`);
    for (const [i, collector] of collectors.entries()) await callUntilDone(fleet.baseUrls, i, timeline, `/collectors/${collector}/start`);
    watch = new AdoptionWatch(postgres, timeline);
    watch.start();

    const stage: Stage = { options, timeline, rng, root, postgres, fleet, watch, app, fuzzPort, proxy };
    const { load, workloads, faults } = await loadWithFaults(stage);
    await finalRecovery(stage, load, workloads);
    const held = await heldRound({ timeline, fleet, watch, postgres, values: workloads.values, fanout: workloads.fanout, valueCount: HELD_VALUES, fanoutCount: HELD_FANOUTS });
    await Promise.all(workloads.all.map((w) => w.drain(timeline.now() + DRAIN_MS)));
    await watch.stop();
    const { httpFuzzer, fuzz } = await fuzzBadInput(stage);
    let collected = 0;
    for (const [i, collector] of collectors.entries()) {
      const body = await callUntilDone(fleet.baseUrls, i, timeline, `/collectors/${collector}/stop`);
      collected += (JSON.parse(body) as { received: number }).received;
    }
    const report = await checkAndReport(stage, { load, workloads, held, faults, httpFuzzer, fuzz, collected });
    passed = report.passed;
    return report;
  } finally {
    fleet?.killNow();
    await watch?.stop().catch(() => undefined);
    await proxy?.close();
    await postgres?.stop().catch(() => undefined);
    process.off('exit', cleanUpNow);
    // The data folder is large and worthless; the logs and fuzz files are kept when the run failed.
    rmSync(join(root, 'pgdata'), { recursive: true, force: true });
    if (passed && !options.keep) rmSync(root, { recursive: true, force: true });
  }
}

/** The workloads' client loops, sized from the order load's clients (a few each). */
function makeWorkloads(stage: Stage): Workloads {
  const { options, timeline, rng, app } = stage;
  const client = new CarefulClient(stage.fleet.baseUrls, timeline, ATTEMPT_TIMEOUT_MS);
  const perWorkload = (share: number) => Math.max(1, Math.round(options.clients * share));
  const ledger = new LedgerWorkload(client, timeline, rng.fork('ledger'), app.ledgerLog, perWorkload(1 / 4), options.maxRequests);
  const fanout = new FanoutWorkload(client, timeline, rng.fork('fanout'), perWorkload(1 / 8), options.maxRequests);
  const values = new ValuesWorkload(client, timeline, rng.fork('values'), perWorkload(1 / 16), options.maxRequests);
  const identity = new IdentityWorkload(client, timeline, rng.fork('identity'), perWorkload(1 / 16), options.maxRequests);
  return { ledger, fanout, values, identity, all: [ledger, fanout, values, identity], client };
}

async function loadWithFaults(stage: Stage): Promise<{ load: LoadGenerator; workloads: Workloads; faults: FaultInjector }> {
  const { options, timeline, rng } = stage;
  const load = new LoadGenerator({
    baseUrls: stage.fleet.baseUrls,
    rng: rng.fork('load'),
    timeline,
    clients: options.clients,
    maxRequests: options.maxRequests,
    attemptTimeoutMs: ATTEMPT_TIMEOUT_MS,
  });
  const workloads = makeWorkloads(stage);
  const faults = new FaultInjector(rng.fork('faults'), timeline, stage.fleet, stage.postgres, stage.proxy, stage.watch);
  const loadUntil = timeline.now() + options.durationS * 1000;
  load.start(loadUntil);
  for (const workload of workloads.all) workload.start(loadUntil);
  const progress = setInterval(
    () =>
      timeline.log(
        `load: ${load.orders.length} orders sent, ${load.outstanding} outstanding; ${workloads.ledger.transfers.length} transfers, ` +
          `${workloads.fanout.fanouts.length} fan-outs, ${workloads.values.values.length} values, ${workloads.identity.cases.length} identity cases`,
      ),
    10_000,
  );
  try {
    await faults.run(loadUntil);
    while (timeline.now() < loadUntil) await new Promise((resolve) => setTimeout(resolve, 200));
  } finally {
    clearInterval(progress);
  }
  return { load, workloads, faults };
}

/**
 * No restart here: the runtimes must finish what the last fault left in flight by themselves (a
 * restart's recovery scan would hide a workflow one forgot); only one that is down is started.
 */
async function finalRecovery(stage: Stage, load: LoadGenerator, workloads: Workloads): Promise<void> {
  const { timeline } = stage;
  timeline.log(`load window over (${load.orders.length} orders sent); final recovery: every outstanding order and piece of work retried until answered`);
  if (!stage.postgres.isRunning) await stage.postgres.start();
  await stage.fleet.ensureAllUp();
  const giveUpAt = timeline.now() + DRAIN_MS;
  await Promise.all([load.drain(giveUpAt), ...workloads.all.map((w) => w.drain(giveUpAt))]);
  timeline.log(`every client is done: ${load.orders.length - load.outstanding} of ${load.orders.length} orders answered`);
}

async function fuzzBadInput(stage: Stage): Promise<{ httpFuzzer: HttpFuzzer; fuzz: FuzzSummary[] }> {
  const { options, timeline, rng, app } = stage;
  const httpFuzzer = new HttpFuzzer(app.httpPort, rng.fork('http-fuzz'), timeline);
  const httpFuzz = await httpFuzzer.run(Math.max(40, options.durationS));
  timeline.log(`HTTP fuzzing: ${httpFuzz.cases} cases, ${httpFuzz.failures.length} failures`);
  const configFuzz = await fuzzConfig({
    rng: rng.fork('config-fuzz'),
    timeline,
    appConfig: app.config,
    bundle: join(app.dir, 'dist', 'operations.js'),
    dir: join(stage.root, 'config-fuzz'),
    httpPort: stage.fuzzPort,
    pgPort: stage.postgres.port,
    cases: options.configCases,
    cliRuns: options.configCliRuns,
  });
  // A fresh connection: the load's pooled keep-alive sockets have long been idle.
  const health = await rawExchange(app.httpPort, encodeRequest({ method: 'GET', path: '/operon/health' }));
  if (!('response' in health) || health.response.status !== 200) {
    configFuzz.failures.push(`the server stopped serving during the config fuzzing (health: ${'response' in health ? health.response.status : health.failure})`);
  }
  return { httpFuzzer, fuzz: [httpFuzz, configFuzz] };
}

async function checkAndReport(stage: Stage, outcome: Outcome): Promise<ChaosReport> {
  const { options, timeline, fleet, watch } = stage;
  const { load, httpFuzzer, collected } = outcome;
  const expected: ExpectedOrder[] = [
    ...load.orders.map((o) => ({ orderId: o.orderId, payload: o.payload, workflowUUID: o.workflowUUID, receipt: o.receipt })),
    ...httpFuzzer.placedOrders,
  ];
  const checks = await checkConsistency(stage.postgres, expected, stage.app.sideLog);
  const problems = [...checks.problems, ...outcome.held.problems, ...outcome.faults.problems];
  for (const stranded of watch.stranded) {
    problems.push(`the workflows of ${stranded.runtime}'s executor instance ${stranded.instanceId} (${stranded.kind}) were never all adopted`);
  }
  const workloadFigures: Record<string, WorkloadFigures> = {};
  const workloadDetails: string[] = [];
  const allWorkloadProblems: string[] = [];
  for (const workload of outcome.workloads.all) {
    const check = await workload.check(stage.postgres);
    workloadFigures[workload.name] = { runs: check.runs, failures: check.problems.length };
    for (const [label, value] of Object.entries(check.figures)) workloadDetails.push(`${workload.name}: ${label}: ${value}`);
    // The first few in the report (its end is what CI shows), every one in the run folder's workload-problems.txt.
    for (const p of check.problems.slice(0, PROBLEMS_SHOWN)) workloadDetails.push(`${workload.name} failure: ${p}`);
    if (check.problems.length > PROBLEMS_SHOWN) workloadDetails.push(`${workload.name}: ${check.problems.length - PROBLEMS_SHOWN} more failures in ${join(stage.root, 'workload-problems.txt')}`);
    allWorkloadProblems.push(...check.problems.map((p) => `${workload.name}: ${p}`));
    if (check.runs === 0) problems.push(`the ${workload.name} workload ran nothing`);
  }
  if (collected !== checks.receiptsTotal) problems.push(`the collectors report ${collected} messages, the receipts table holds ${checks.receiptsTotal}`);
  for (const refused of load.orders.filter((o) => o.refused)) {
    problems.push(`order ${refused.orderId} was refused: ${refused.refused!.status} ${refused.refused!.body}`);
  }
  // The end of the run is a graceful stop: SIGTERM, in-flight work drained, exit code 0.
  await fleet.stopAll();
  for (const server of fleet.runtimes) {
    if (server.lastExit !== '0') problems.push(`${server.name} did not stop cleanly on SIGTERM (exit: ${server.lastExit})`);
    for (const crash of server.crashes) problems.push(`${server.name} crashed at ${crash.at.toISOString()} (${crash.exit}): ${lastLines(crash.output, 3)}`);
  }
  const adoptionMs = watch.events.map((e) => e.adoptionMs);

  const latencies = load.orders.filter((o) => o.completedAtMs !== undefined).map((o) => o.completedAtMs! - o.firstSentAtMs);
  const fuzzFailures = outcome.fuzz.flatMap((f) => f.failures);
  const json = {
    seed: options.seed,
    durationS: options.durationS,
    requests: load.orders.length,
    completed: load.orders.filter((o) => o.receipt).length,
    duplicates: checks.duplicates,
    lost: checks.lost,
    faults: outcome.faults.counts,
    workloads: workloadFigures,
    recoveries: fleet.recoveredWorkflows,
    runtimes: fleet.runtimes.length,
    adoption: {
      events: adoptionMs.length,
      workflows: fleet.adoptions.reduce((sum, a) => sum + a.resumed, 0),
      p50Ms: percentile(adoptionMs, 50),
      p99Ms: percentile(adoptionMs, 99),
      maxMs: percentile(adoptionMs, 100),
    },
    fenced: fleet.fenced,
    http5xx: timeline.serverErrors.length,
    http5xxOutsideOutage: timeline.serverErrorsOutsideOutages().length,
    fuzzCases: outcome.fuzz.reduce((sum, f) => sum + f.cases, 0),
    fuzzFailures: fuzzFailures.length,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
  };
  const workloadFailures = Object.values(workloadFigures).reduce((sum, w) => sum + w.failures, 0);
  if (allWorkloadProblems.length > 0) writeFileSync(join(stage.root, 'workload-problems.txt'), `${allWorkloadProblems.join('\n')}\n`);
  const passed =
    json.duplicates === 0 && json.lost === 0 && json.fuzzFailures === 0 && json.http5xxOutsideOutage === 0 && problems.length === 0 && workloadFailures === 0;
  const outside = timeline.serverErrorsOutsideOutages();
  const details = [
    ...adoptionDetails(watch),
    ...timeline.outages.map((o) => `database down (${o.kind}) from ${secs(o.fromMs)} to ${secs(o.toMs ?? o.fromMs)}`),
    ...timeline.serverErrors.map((e) => `${e.status} at ${secs(e.atMs)}${outside.includes(e) ? ' (OUTSIDE any outage or SIGTERM stop)' : ' (during an outage or a SIGTERM stop of its runtime)'}: ${e.what}: ${e.body}`),
    ...problems.map((p) => `problem: ${p}`),
    ...fuzzFailures.map((f) => `fuzz failure: ${f}`),
    ...workloadDetails,
  ];
  return {
    json,
    details,
    passed,
    extra: {
      'HTTP attempts (with retries)': load.counters.attempts + outcome.workloads.client.counters.attempts,
      'commit cuts armed / made': `${outcome.faults.commitCutsArmed} / ${outcome.faults.counts.commitLost}`,
      'held round: workflows recovered mid-wait': outcome.held.parked,
      'connection errors retried': load.counters.connectionErrors,
      'attempt timeouts retried': load.counters.timeouts,
      'communicator re-runs (allowed)': checks.communicatorReruns,
      'messages received by collectors': collected,
      'orders placed by the fuzzer': httpFuzzer.placedOrders.length,
      'workflows still PENDING': checks.pendingWorkflows,
      'operon start crashes': fleet.runtimes.reduce((sum, r) => sum + r.crashes.length, 0),
      'faults whose executor the database could not name': watch.unmeasured,
      'run folder': passed && !options.keep ? 'removed' : stage.root,
    },
  };
}

const secs = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

/** Adoption times by the kind of fault, and the slowest events. */
function adoptionDetails(watch: AdoptionWatch): string[] {
  const kinds = [...new Set(watch.events.map((e) => e.kind))].sort();
  const lines = kinds.map((kind) => {
    const ms = watch.events.filter((e) => e.kind === kind).map((e) => e.adoptionMs);
    return `adoption after ${kind}: ${ms.length} events, p50 ${percentile(ms, 50)} ms, p99 ${percentile(ms, 99)} ms, max ${percentile(ms, 100)} ms`;
  });
  const slowest = [...watch.events].sort((a, b) => b.adoptionMs - a.adoptionMs).slice(0, 3);
  for (const e of slowest) lines.push(`slow adoption: ${e.runtime} (${e.kind}), ${e.workflows} workflows, ${e.adoptionMs} ms`);
  return lines;
}

const lastLines = (text: string, n: number) => text.trim().split('\n').slice(-n).join(' | ').slice(0, 600);

/**
 * POSTs `path` until it answers 200 (retrying connection errors and 5xx, which are recorded);
 * returns the body. Attempts go round the runtimes from the `first`th.
 */
async function callUntilDone(baseUrls: readonly string[], first: number, timeline: Timeline, path: string): Promise<string> {
  for (let attempt = 1; attempt <= 60; attempt++) {
    try {
      const response = await fetch(`${baseUrls[(first + attempt - 1) % baseUrls.length]}${path}`, {
        method: 'POST',
        headers: { 'x-chaos-user': 'harness' },
        signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS),
      });
      const body = await response.text();
      if (response.status === 200) return body;
      if (response.status < 500) throw new Error(`POST ${path} answered ${response.status}: ${body}`);
      timeline.recordServerError(response.status, `POST ${path}`, body);
    } catch (error) {
      if ((error as Error).message.startsWith(`POST ${path} answered`)) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`POST ${path} did not succeed in 60 attempts`);
}

async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const server = createServer();
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}
