/**
 * Regression: a queue workflow that ran before, sent back to its queue by an executor that could
 * not load its version, could never commit a transaction again. The recovering executor's claim
 * had fenced the workflow's transactions to itself at the row's new epoch; the send-back left the
 * epoch as it was, so the executor that dequeued it next fenced at the same epoch, which does not
 * take a fence over (only a newer epoch does). Its every transaction was refused as a fenced
 * writer's, and the workflow never ended.
 *
 * Expected: a workflow sent back to its queue moves its epoch on, so whoever dequeues it next
 * fences its transactions to itself and runs it to its end.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { Transaction, Workflow, WorkflowQueue, type TransactionContext, type WorkflowContext } from '@operon/sdk';
import { OperonRuntime } from '@operon/runtime';
import { createLogger } from '../../packages/runtime/src/logging.js';
import { versionOf } from '../../packages/runtime/src/versions/bundle-version.js';
import { query, testConfig } from '../helpers/test-databases.js';

const lane = new WorkflowQueue('bounced-commits-lane', { concurrency: 1 });

class Bounced {
  @Workflow()
  static async waits(ctx: WorkflowContext): Promise<string> {
    const go = (await ctx.recv<string>('go', 300)) ?? 'timed out';
    return `${go}:${await ctx.invoke(Bounced).write()}`;
  }

  @Transaction()
  static async write(ctx: TransactionContext): Promise<number> {
    const { rows } = await ctx.client.query<{ v: number }>('SELECT 7 AS v');
    return rows[0]!.v;
  }
}

const dir = mkdtempSync(join(tmpdir(), 'operon-bounced-'));
const config = { ...testConfig('bounced'), appDir: dir };
const runtimes: OperonRuntime[] = [];
const sys = (text: string, values: unknown[] = []) => query(config.database.system_database, text, values);

afterAll(async () => {
  for (const runtime of runtimes) await runtime.destroy({ timeoutMs: 0 });
  rmSync(dir, { recursive: true, force: true });
});

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  let value = await read();
  while (!done(value) && Date.now() < end) {
    await new Promise((resolve) => setTimeout(resolve, 25));
    value = await read();
  }
  return value;
}

const rowOf = async () => (await sys(`SELECT status, owner, version FROM operon.workflow_status WHERE workflow_uuid = 'bounced'`))[0] as { status: string; owner: string | null; version: string | null };

it('a queue workflow sent back by an executor that could not load its version commits its transactions once dequeued again', { timeout: 60_000 }, async () => {
  const start = async () => {
    const runtime = await OperonRuntime.create({ config, classes: [Bounced], logger: createLogger('silent') });
    runtimes.push(runtime);
    await runtime.recover();
    return runtime;
  };
  const first = await start();
  await (runtime(first).waits());
  expect((await until(rowOf, (row) => row?.status === 'PENDING')).status).toBe('PENDING');
  const { version: ownVersion } = await rowOf();
  await first.destroy({ timeoutMs: 0 });

  // Recovered by an executor to which its version does not load: it goes back to its queue.
  const broken = Buffer.from(`throw new Error('this bundle loads nowhere');\n// ${Math.random()}\n`);
  const brokenVersion = versionOf(broken);
  await sys(`INSERT INTO operon.versions (version, bundle) VALUES ($1, $2)`, [brokenVersion, broken]);
  await sys(`UPDATE operon.workflow_status SET version = $1 WHERE workflow_uuid = 'bounced'`, [brokenVersion]);
  const second = await start();
  expect(await until(rowOf, (row) => row.status === 'ENQUEUED')).toMatchObject({ status: 'ENQUEUED', owner: null });
  await second.destroy({ timeoutMs: 0 });

  // Its version loads again (its bundle was found): the next executor dequeues it and runs it on.
  await sys(`UPDATE operon.workflow_status SET version = $1 WHERE workflow_uuid = 'bounced'`, [ownVersion]);
  const third = await start();
  await third.client.send('bounced', 'go', 'go');
  const ended = await until(async () => (await sys(`SELECT status, error FROM operon.workflow_status WHERE workflow_uuid = 'bounced'`))[0] as { status: string; error: string | null }, (row) => row.status !== 'PENDING' && row.status !== 'ENQUEUED');
  // Before, its transaction was refused as a fenced writer's: it stayed PENDING for ever.
  expect(ended).toMatchObject({ status: 'SUCCESS', error: null });
});

function runtime(r: OperonRuntime) {
  return r.client.invoke(Bounced, { workflowUUID: 'bounced', queue: { queue: lane } }) as unknown as { waits(): Promise<unknown> };
}
