/** A worker process running Operon, from the built packages, as a user's app would. */
import { OperonRuntime, createLogger, resolveConfig } from '@operon/runtime';
import { WorkflowQueue } from '@operon/sdk';
import { BenchOps } from './operon-app.js';
import { QUEUE_CONCURRENCY, QUEUE_NAME, RELEASE_TOPIC, type Job, type Workload } from './protocol.js';
import { runWorker, workerDatabase, type FrameworkAdapter } from './worker-harness.js';

const METHODS: Record<Workload, 'w0' | 'w3' | 'w3s'> = { W0: 'w0', W3: 'w3', W3S: 'w3s' };

async function createOperonAdapter(): Promise<FrameworkAdapter> {
  const db = workerDatabase();
  const config = resolveConfig(
    {
      database: {
        hostname: db.host,
        port: db.port,
        username: db.user,
        password: db.password,
        user_database: db.appDatabase,
        system_database: db.systemDatabase,
        poolSize: db.poolSize,
      },
      telemetry: { logs: { logLevel: 'warn' } },
    },
    { file: '', appDir: process.cwd() },
  );
  let runtime: OperonRuntime | undefined;
  // Made only for the queue workload: a queue of the process is polled, which other jobs must not count.
  const job = JSON.parse(process.env.BENCH_JOB ?? '{}') as Job;
  const queue = job.kind === 'queue' ? new WorkflowQueue(QUEUE_NAME, { concurrency: QUEUE_CONCURRENCY }) : undefined;
  const live = (): OperonRuntime => {
    if (!runtime) throw new Error('the Operon runtime is not launched');
    return runtime;
  };
  return {
    async launch() {
      runtime = await OperonRuntime.create({ config, classes: [BenchOps], logger: createLogger('warn') });
      await runtime.recover();
    },
    async run(workload, input, workflowUUID) {
      const r = live();
      const handle = await r.client.invoke(BenchOps, { workflowUUID })[METHODS[workload]](input);
      return handle.getResult();
    },
    async startBlocked(input, workflowUUID) {
      const r = live();
      const handle = await r.client.invoke(BenchOps, { workflowUUID }).blocked(input);
      // Nobody awaits this result in this process: the process is killed while it waits.
      handle.getResult().catch(() => undefined);
    },
    async send(workflowUUID, message) {
      await live().client.send(workflowUUID, message, RELEASE_TOPIC);
    },
    async enqueue(input, workflowUUID) {
      if (!queue) throw new Error('the queue is made only for the queue workload');
      await live().client.invoke(BenchOps, { queue, workflowUUID }).queued(input);
    },
    async shutdown() {
      await runtime?.destroy({ timeoutMs: 5_000 });
    },
  };
}

await runWorker(createOperonAdapter);
