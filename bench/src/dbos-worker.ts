/** A worker process running DBOS Transact 5.3.0 with the Postgres data source. */
import { DBOS } from '@dbos-inc/dbos-sdk';
import { registerDbosApp } from './dbos-app.js';
import { QUEUE_CONCURRENCY, QUEUE_NAME, RELEASE_TOPIC, type Job } from './protocol.js';
import { runWorker, workerDatabase, type FrameworkAdapter } from './worker-harness.js';

async function createDbosAdapter(): Promise<FrameworkAdapter> {
  const db = workerDatabase();
  const app = await registerDbosApp(db);
  const user = encodeURIComponent(db.user);
  const password = encodeURIComponent(db.password);
  DBOS.setConfig({
    name: 'operon-bench',
    systemDatabaseUrl: `postgresql://${user}:${password}@${db.host}:${db.port}/${db.systemDatabase}`,
    systemDatabasePoolSize: db.poolSize,
    logLevel: 'warn',
  });
  return {
    async launch() {
      await DBOS.launch();
      const job = JSON.parse(process.env.BENCH_JOB ?? '{}') as Job;
      if (job.kind === 'queue') await DBOS.registerQueue(QUEUE_NAME, { concurrency: QUEUE_CONCURRENCY });
    },
    async enqueue(input, workflowID) {
      await DBOS.startWorkflow(app.queued, { workflowID, queueName: QUEUE_NAME })(input);
    },
    async run(workload, input, workflowID) {
      const handle = await DBOS.startWorkflow(app.workflows[workload], { workflowID })(input);
      return handle.getResult();
    },
    async startBlocked(input, workflowID) {
      const handle = await DBOS.startWorkflow(app.workflows.blocked, { workflowID })(input);
      handle.getResult().catch(() => undefined);
    },
    async send(workflowID, message) {
      await DBOS.send(workflowID, message, RELEASE_TOPIC);
    },
    async shutdown() {
      await DBOS.shutdown();
    },
  };
}

await runWorker(createDbosAdapter);
