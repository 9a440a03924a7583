/**
 * Retention: ended workflows older than `management.retentionDays` are deleted with everything
 * recorded for them (operation records, events, messages and idempotency keys addressed to them,
 * transaction outputs and fences in the app database), batch by batch; a PENDING workflow, a
 * recent one and a row someone holds locked are left alone, and the sweep never waits for the lock.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Communicator, Transaction, Workflow, type CommunicatorContext, type TransactionContext, type WorkflowContext } from '@operon/sdk';
import { resolveConfig, type OperonConfig, type OperonRuntime } from '@operon/runtime';
import { RetentionSweeper } from '../../packages/runtime/src/management/retention-sweeper.js';
import { connectTo, query, startRuntime, testConfig } from '../helpers/test-databases.js';

class Kept {
  @Transaction()
  static async note(ctx: TransactionContext, text: string): Promise<string> {
    const { rows } = await ctx.client.query<{ t: string }>('SELECT upper($1) AS t', [text]);
    return rows[0]!.t;
  }

  @Communicator()
  static async echo(_ctx: CommunicatorContext, text: string): Promise<string> {
    return text;
  }

  @Workflow()
  static async talk(ctx: WorkflowContext, text: string): Promise<string> {
    const loud = await ctx.invoke(Kept).note(text);
    await ctx.invoke(Kept).echo(loud);
    await ctx.setEvent('said', loud);
    return loud;
  }

  @Workflow()
  static async parks(ctx: WorkflowContext): Promise<unknown> {
    return ctx.recv('never', 60);
  }
}

const DAY_MS = 86_400_000;
const config = testConfig('retention');
const sys = config.database.system_database;
const app = config.database.user_database;
const OLD = ['old-1', 'old-2', 'old-3', 'old-4'];
let runtime: OperonRuntime;

/** How many rows each table holds for `uuid`. */
async function rowsOf(uuid: string): Promise<Record<string, number>> {
  const [counts] = await query<Record<string, string>>(
    sys,
    `SELECT (SELECT count(*) FROM operon.workflow_status WHERE workflow_uuid = $1) AS status,
            (SELECT count(*) FROM operon.operation_outputs WHERE workflow_uuid = $1) AS outputs,
            (SELECT count(*) FROM operon.workflow_events WHERE workflow_uuid = $1) AS events,
            (SELECT count(*) FROM operon.notifications WHERE destination_uuid = $1) AS messages,
            (SELECT count(*) FROM operon.message_idempotency_keys WHERE destination_uuid = $1) AS keys`,
    [uuid],
  );
  const [appCounts] = await query<Record<string, string>>(
    app,
    `SELECT (SELECT count(*) FROM operon.transaction_outputs WHERE workflow_uuid = $1) AS transactions,
            (SELECT count(*) FROM operon.workflow_owners WHERE workflow_uuid = $1) AS owners`,
    [uuid],
  );
  return Object.fromEntries(Object.entries({ ...counts, ...appCounts }).map(([key, value]) => [key, Number(value)]));
}

function withRetention(base: OperonConfig, retentionDays: number): OperonConfig {
  return { ...base, management: { ...base.management, retentionDays } };
}

beforeAll(async () => {
  runtime = await startRuntime([Kept], config);
  for (const uuid of [...OLD, 'recent']) {
    expect(await (await runtime.client.invoke(Kept, { workflowUUID: uuid }).talk(uuid)).getResult()).toBe(uuid.toUpperCase());
    // A message nobody received, with its idempotency key.
    await runtime.client.send(uuid, 'late', 'mail', `key-${uuid}`);
  }
  await runtime.client.invoke(Kept, { workflowUUID: 'parked' }).parks();
  // Three days ago, by the database's records: the old ones ended then, the parked one started then.
  await query(sys, `UPDATE operon.workflow_status SET created_at = created_at - $1, updated_at = updated_at - $1 WHERE workflow_uuid = ANY($2)`, [
    3 * DAY_MS,
    [...OLD, 'parked'],
  ]);
});

afterAll(async () => {
  await runtime?.destroy({ timeoutMs: 100 });
});

describe('retention', () => {
  it('deletes old ended workflows with all their records, batch by batch, skipping a locked one and keeping the rest', async () => {
    expect(await rowsOf('old-1')).toEqual({ status: 1, outputs: 2, events: 1, messages: 1, keys: 1, transactions: 1, owners: 1 });
    // Someone holds old-4's row: the sweep must neither wait for it nor delete it.
    const holder = await connectTo(sys);
    try {
      await holder.query('BEGIN');
      await holder.query(`SELECT 1 FROM operon.workflow_status WHERE workflow_uuid = 'old-4' FOR UPDATE`);
      const sweeper = new RetentionSweeper(runtime.systemDb, runtime.executor.deps.clock, runtime.logger, { retentionDays: 2, batchSize: 2, pauseMs: 0 });
      expect(await sweeper.sweep()).toBe(3);
      await sweeper.stop();
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
    }
    const none = { status: 0, outputs: 0, events: 0, messages: 0, keys: 0, transactions: 0, owners: 0 };
    for (const uuid of ['old-1', 'old-2', 'old-3']) expect(await rowsOf(uuid)).toEqual(none);
    expect(await rowsOf('old-4')).toMatchObject({ status: 1, outputs: 2, transactions: 1 });
    expect(await rowsOf('recent')).toMatchObject({ status: 1, outputs: 2, events: 1, messages: 1, transactions: 1 });
    // PENDING for three days: not ended, so kept.
    expect(await rowsOf('parked')).toMatchObject({ status: 1 });
  });

  it('sweeps at start when management.retentionDays is set', async () => {
    await runtime.destroy({ timeoutMs: 100 });
    runtime = await startRuntime([Kept], withRetention(config, 2));
    await vi.waitFor(async () => expect((await rowsOf('old-4')).status).toBe(0), { timeout: 10_000, interval: 100 });
    expect(await rowsOf('old-4')).toEqual({ status: 0, outputs: 0, events: 0, messages: 0, keys: 0, transactions: 0, owners: 0 });
    expect((await rowsOf('recent')).status).toBe(1);
    expect((await rowsOf('parked')).status).toBe(1);
  });
});

describe('management.retentionDays', () => {
  const resolve = (management: unknown) => resolveConfig({ management }, { file: 'cfg', appDir: process.cwd(), env: {} });

  it('keeps everything by default, and takes a whole number of days', () => {
    expect(resolve({}).management.retentionDays).toBeUndefined();
    expect(resolve({ retentionDays: 30 }).management.retentionDays).toBe(30);
  });

  it('refuses a value that is not a positive whole number, naming the key', () => {
    expect(() => resolve({ retentionDays: 0 })).toThrow('cfg: management.retentionDays must be an integer of at least 1, got 0');
    expect(() => resolve({ retentionDays: 1.5 })).toThrow('cfg: management.retentionDays must be an integer, got 1.5');
    expect(() => resolve({ retentionDay: 3 })).toThrow('cfg: management.retentionDay is not a known key; did you mean retentionDays?');
  });
});
