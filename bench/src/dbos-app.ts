/**
 * The benchmark's workloads as a DBOS Transact app: steps registered with `DBOS.registerStep`, the
 * transaction with `@dbos-inc/postgres-datasource`. Keep in step with operon-app.ts.
 */
import { DBOS } from '@dbos-inc/dbos-sdk';
import type { PostgresDataSource as PostgresDataSourceClass } from '@dbos-inc/postgres-datasource';
import { supplyDatasourceHelpers } from './dbos-datasource-helpers.js';
import type { DatabaseTarget, Workload } from './protocol.js';
import { blockedWorkflows, noteQueuedStart } from './worker-harness.js';
import type { QueuedInput } from './protocol.js';
import { INSERT_ROW, RECV_TIMEOUT_SECONDS, RELEASE_TOPIC, type StepOutput, type W3Output } from './workloads.js';

export interface DbosApp {
  readonly workflows: Record<Workload | 'blocked', (input: number) => Promise<unknown>>;
  readonly queued: (input: QueuedInput) => Promise<number>;
}

/** Registers the app's functions (before `DBOS.launch`, as DBOS requires). */
export async function registerDbosApp(db: DatabaseTarget): Promise<DbosApp> {
  supplyDatasourceHelpers();
  // Loaded only now, after its missing helpers are in place.
  const { PostgresDataSource } = (await import('@dbos-inc/postgres-datasource')) as {
    PostgresDataSource: typeof PostgresDataSourceClass;
  };
  const dataSource = new PostgresDataSource('app', {
    host: db.host,
    port: db.port,
    username: db.user,
    password: db.password,
    database: db.appDatabase,
    max: db.poolSize,
    onnotice: () => undefined,
  });

  const stepA = DBOS.registerStep(async (input: number): Promise<StepOutput> => ({ step: 'A', input }), { name: 'stepA' });
  const stepMiddle = DBOS.registerStep(async (input: number): Promise<StepOutput> => ({ step: 'M', input }), { name: 'stepMiddle' });
  const stepB = DBOS.registerStep(async (input: number): Promise<StepOutput> => ({ step: 'B', input }), { name: 'stepB' });
  // SERIALIZABLE, as Operon's default, so both frameworks run the same transaction.
  const insertRow = dataSource.registerTransaction(
    async (input: number): Promise<string> => {
      const rows = await PostgresDataSource.client.unsafe(INSERT_ROW, [input]);
      return String(rows[0]!['id']);
    },
    { name: 'insertRow', isolationLevel: 'SERIALIZABLE' },
  );

  const w0 = DBOS.registerWorkflow(async (input: number): Promise<number> => input, { name: 'w0' });
  const w3 = DBOS.registerWorkflow(
    async (input: number): Promise<W3Output> => {
      const a = await stepA(input);
      const id = await insertRow(input);
      const b = await stepB(input);
      return [a, id, b];
    },
    { name: 'w3' },
  );
  const w3s = DBOS.registerWorkflow(
    async (input: number): Promise<W3Output> => {
      const a = await stepA(input);
      const middle = await stepMiddle(input);
      const b = await stepB(input);
      return [a, middle, b];
    },
    { name: 'w3s' },
  );
  const blocked = DBOS.registerWorkflow(
    async (input: number): Promise<[StepOutput, string | null]> => {
      const a = await stepA(input);
      blockedWorkflows.count++;
      const message = await DBOS.recv<string>(RELEASE_TOPIC, RECV_TIMEOUT_SECONDS);
      return [a, message];
    },
    { name: 'blocked' },
  );
  // The queue workload: the same body as Operon's (operon-app.ts).
  const queued = DBOS.registerWorkflow(
    async (input: QueuedInput): Promise<number> => {
      noteQueuedStart(input);
      await stepA(input.input);
      await stepB(input.input);
      return input.input;
    },
    { name: 'queued' },
  );
  return { workflows: { W0: w0, W3: w3, W3S: w3s, blocked }, queued };
}
