/**
 * Regression: a cancel heard between an executor's claim of a workflow and its run reaches no
 * execution; the execution, once registered, asks the workflow's status before its first
 * operation. A failure of that question (its answer lost with the connection) counted as "not
 * cancelled": the run started, and its first operation (a communicator) called out after the
 * cancel. The question is now asked again once the database answers.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Communicator, Workflow, type CommunicatorContext, type WorkflowContext } from '@operon/sdk';
import { cancelWorkflows, type OperonConfig, type OperonRuntime } from '@operon/runtime';
import { CuttableProxy } from '../helpers/cuttable-proxy.js';
import { connectTo, query, startRuntime, testConfig } from '../helpers/test-databases.js';

let calls = 0;

class Caller {
  @Communicator()
  static async callOut(_ctx: CommunicatorContext): Promise<string> {
    calls++;
    return 'called';
  }

  @Workflow()
  static async go(ctx: WorkflowContext): Promise<string> {
    return ctx.invoke(Caller).callOut();
  }
}

let proxy: CuttableProxy;
let config: OperonConfig;
let runtime: OperonRuntime;
let sysDb: string;

beforeAll(async () => {
  const server = inject('postgres');
  proxy = new CuttableProxy({ host: server.host, port: server.port });
  const port = await proxy.listen();
  config = testConfig('claimed_check_lost', {
    database: { hostname: '127.0.0.1', port, connectionTimeoutMillis: 1_000 },
    // A lost connection is logged as a warning, on purpose here.
    telemetry: { logs: { logLevel: 'error' } },
  });
  sysDb = config.database.system_database;
  runtime = await startRuntime([Caller], config);
});

afterAll(async () => {
  proxy?.restore();
  await runtime?.destroy({ timeoutMs: 1_000 });
  await proxy?.close();
});

const statusOf = async (uuid: string) => (await query(sysDb, 'SELECT status, owner FROM operon.workflow_status WHERE workflow_uuid = $1', [uuid]))[0];

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`never happened: ${what}`);
}

describe('a cancel heard between a claim and its run', () => {
  it('whose status check lost its answer: the check is asked again, and the run starts nothing', async () => {
    const uuid = 'claimed-check-lost';
    const gone = 'handover-gone-check-lost';
    const now = Date.now();
    await query(
      sysDb,
      `INSERT INTO operon.executors (instance_id, executor_id, host, host_key, pid, session_tag, started_at, lease_ms, state)
       VALUES ($1, 'gone', 'nowhere', 'nowhere', 0, '', $2, 0, 'stopped')`,
      [gone, now],
    );
    await query(
      sysDb,
      `INSERT INTO operon.workflow_status (workflow_uuid, status, workflow_name, kind, executor_id, inputs, created_at, updated_at, owner)
       VALUES ($1, 'PENDING', 'Caller.go', 'workflow', 'gone', '[]', $2, $2, $3)`,
      [uuid, now, gone],
    );
    // The adoption's read of the app database's records waits behind this lock: claimed, not yet run.
    const appDb = await connectTo(config.database.user_database);
    let cut: ReturnType<CuttableProxy['loseNextCommitAnswer']>;
    try {
      await appDb.query('BEGIN');
      await appDb.query('LOCK TABLE operon.transaction_outputs IN ACCESS EXCLUSIVE MODE');
      void runtime.executor.adoptNow([gone]).catch(() => undefined);
      await until(async () => (await statusOf(uuid)).owner === runtime.executor.lease.instanceId, 'claimed');
      await cancelWorkflows(runtime.systemDb.systemPool, { workflowUUID: uuid }, { actor: 'test' }, { appPool: runtime.systemDb.appPool });
      // The notification reaches the runtime while its claim waits.
      await new Promise((resolve) => setTimeout(resolve, 300));
      // Only the execution's status question reads cancelled workflows this way.
      cut = proxy.loseNextCommitAnswer({ marker: "ANY($1::text[]) AND status = 'CANCELLED'" });
      await appDb.query('COMMIT');
    } finally {
      await appDb.end();
    }
    const lost = await cut!;
    await until(async () => (await statusOf(uuid)).owner === null, 'let go of');
    expect({ cut: lost?.committed, calls, status: (await statusOf(uuid)).status }).toEqual({ cut: 'autocommit', calls: 0, status: 'CANCELLED' });
  });
});
