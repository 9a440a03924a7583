/**
 * The runtime's Prometheus metrics, served as text by `GET /operon/metrics`. Each runtime has its
 * own registry (several runtimes in one process, as in tests, never mix their counts). On the hot
 * path only in-memory counters move; whatever needs the database (live executors, queue depths) is
 * read when the metrics are scraped.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { SystemDatabase } from '../system-db/system-database.js';

/** What an operation is, as the latency histogram labels it. */
export type OperationKind =
  | 'transaction'
  | 'communicator'
  | 'child'
  | 'send'
  | 'recv'
  | 'setEvent'
  | 'getEvent'
  | 'sleep'
  | 'read'
  | 'other';

/** Operon's own operations are recorded under `operon.<name>`; the rest are registered functions. */
const OWN_OPERATIONS: Readonly<Record<string, OperationKind>> = {
  send: 'send',
  recv: 'recv',
  'recv.deadline': 'recv',
  setEvent: 'setEvent',
  getEvent: 'getEvent',
  'getEvent.deadline': 'getEvent',
  sleep: 'sleep',
};

/** Seconds: from a fast transaction (about a millisecond) to a long communicator. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export class RuntimeMetrics {
  readonly registry = new Registry();
  private readonly started: Counter<'name'>;
  private readonly ended: Counter<'name' | 'status'>;
  private readonly latency: Histogram<'kind'>;
  private readonly recovered: Counter;
  private readonly fenced: Counter;
  private readonly left: Counter<'version'>;
  private readonly kinds = new Map<string, OperationKind>();

  constructor(
    /** The kind of a registered function by its `Class.method` name. */
    private readonly kindOf: (functionName: string) => string | undefined,
    systemDb?: SystemDatabase,
  ) {
    const registers = [this.registry];
    this.started = new Counter({ name: 'operon_workflows_started_total', help: 'Workflows started by this process, by name', labelNames: ['name'], registers });
    this.ended = new Counter({
      name: 'operon_workflows_ended_total',
      help: 'Workflows this process ran to an end, by name and final status',
      labelNames: ['name', 'status'],
      registers,
    });
    this.latency = new Histogram({
      name: 'operon_operation_duration_seconds',
      help: 'How long operations took to perform and record (replayed ones are not counted), by kind',
      labelNames: ['kind'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.recovered = new Counter({ name: 'operon_workflows_recovered_total', help: 'Workflows this process resumed by recovery or adoption', registers });
    this.fenced = new Counter({
      name: 'operon_workflows_fenced_total',
      help: 'Workflows this process stopped running because another executor adopted them',
      registers,
    });
    this.left = new Counter({
      name: 'operon_workflows_left_for_other_executors_total',
      help: 'Workflows this process adopted but handed over again, by version: it cannot load their version',
      labelNames: ['version'],
      registers,
    });
    if (!systemDb) return;
    new Gauge({
      name: 'operon_executors_alive',
      help: 'Executors on this system database that are live and heartbeating within their lease',
      registers,
      async collect() {
        const executors = await systemDb.listExecutors();
        this.set(executors.filter((executor) => executor.alive).length);
      },
    });
    new Gauge({
      name: 'operon_queue_workflows',
      help: 'Workflows of each queue on this system database waiting to start (ENQUEUED) and running (PENDING)',
      labelNames: ['queue', 'status'],
      registers,
      async collect() {
        this.reset();
        for (const depth of await systemDb.queueDepths()) this.set({ queue: depth.queueName, status: depth.status }, depth.workflows);
      },
    });
  }

  workflowStarted(name: string): void {
    this.started.inc({ name });
  }

  workflowEnded(name: string, status: string): void {
    this.ended.inc({ name, status });
  }

  /** An operation of `functionName` was performed and recorded in `seconds`. */
  operationPerformed(functionName: string, seconds: number): void {
    this.latency.observe({ kind: this.kindOfOperation(functionName) }, seconds);
  }

  workflowsRecovered(count: number): void {
    if (count > 0) this.recovered.inc(count);
  }

  workflowFenced(): void {
    this.fenced.inc();
  }

  workflowLeft(version: string): void {
    this.left.inc({ version });
  }

  /** Every metric in Prometheus's text format. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private kindOfOperation(functionName: string): OperationKind {
    let kind = this.kinds.get(functionName);
    if (kind !== undefined) return kind;
    if (functionName.startsWith('operon.')) {
      const own = functionName.slice('operon.'.length);
      // Reads of another workflow's status or result name that workflow: one label for all of them.
      kind = OWN_OPERATIONS[own] ?? (own.startsWith('get') ? 'read' : 'other');
    } else {
      const registered = this.kindOf(functionName);
      kind = registered === 'workflow' ? 'child' : registered === 'transaction' || registered === 'communicator' ? registered : 'other';
    }
    // Only registered and Operon's own names are kept: a read's name carries a UUID.
    if (kind !== 'read') this.kinds.set(functionName, kind);
    return kind;
  }
}
