/** A worker process running DBOS Transact 5.3.0 with the Postgres data source. */
import { DBOS } from '@dbos-inc/dbos-sdk';
import { registerDbosApp } from './dbos-app.js';
import { RELEASE_TOPIC } from './protocol.js';
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
