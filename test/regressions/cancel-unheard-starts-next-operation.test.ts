/**
 * Regression: a run that never heard a cancel's notification learnt of it only from a
 * communicator's record write (or a sleep's, or a child read's). A send, setEvent, recv or
 * getEvent wrote its record without reading the status, so the run started one more operation
 * after it; and a listener that lost its connection missed every cancel notified meanwhile, so a
 * sleeping workflow slept on. Now every fenced record write reads the status in the same
 * statement, and a reconnected listener looks at the status of the workflows running here.
 * The cancels here are plain UPDATEs (no NOTIFY), as if the notification were lost.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Communicator, Workflow, type CommunicatorContext, type WorkflowContext } from '@operon/sdk';
import type { OperonRuntime } from '@operon/runtime';
import { until } from '../helpers/poll.js';
import { query, startRuntime, testConfig } from '../helpers/test-databases.js';
import { outcomeOf } from '../helpers/workflow-outcome.js';

const after = new Map<string, number>();

class Unheard {
  @Communicator()
  static async next(ctx: CommunicatorContext): Promise<void> {
    after.set(ctx.workflowUUID, (after.get(ctx.workflowUUID) ?? 0) + 1);
  }

  @Workflow()
  static async receives(ctx: WorkflowContext): Promise<void> {
    await ctx.recv('go', 60);
    await ctx.invoke(Unheard).next();
  }

  /** Cancelled during its sleep (1.5 s: long enough for the test's cancel to land in it on a loaded machine). */
  @Workflow()
  static async setsEvent(ctx: WorkflowContext): Promise<void> {
    await ctx.sleep(1.5);
    await ctx.setEvent('stage', 'after recv');
    await ctx.invoke(Unheard).next();
  }

  @Workflow()
  static async sends(ctx: WorkflowContext): Promise<void> {
    await ctx.sleep(1.5);
    await ctx.send('nobody', 'hello');
    await ctx.invoke(Unheard).next();
  }

  @Workflow()
  static async sleeps(ctx: WorkflowContext): Promise<void> {
    await ctx.sleep(120);
    await ctx.invoke(Unheard).next();
  }
}

let runtime: OperonRuntime;
let sysDb: string;

beforeAll(async () => {
  const config = testConfig('cancel_unheard');
  sysDb = config.database.system_database;
  runtime = await startRuntime([Unheard], config);
});

afterAll(async () => {
  await runtime?.destroy({ timeoutMs: 1000 });
});

const recorded = async (uuid: string, name: string) =>
  (await query(sysDb, 'SELECT 1 FROM operon.operation_outputs WHERE workflow_uuid = $1 AND function_name = $2', [uuid, name])).length > 0;

/** A cancel nobody is told of. */
const cancelSilently = (uuid: string) => query(sysDb, `UPDATE operon.workflow_status SET status = 'CANCELLED' WHERE workflow_uuid = $1`, [uuid]);

const outcome = (uuid: string) => outcomeOf(runtime, uuid, 5_000);

describe('a cancel whose notification is not heard', () => {
  it('stops the run at the recv that consumes a message after it: the next operation never starts', async () => {
    await runtime.client.invoke(Unheard, { workflowUUID: 'unheard-recv' }).receives();
    await until(() => recorded('unheard-recv', 'operon.recv.deadline'), 'recv waiting');
    await cancelSilently('unheard-recv');
    await runtime.client.send('unheard-recv', 'go', 'go');
    await until(() => recorded('unheard-recv', 'operon.recv'), 'message consumed');
    expect(await outcome('unheard-recv')).toBe('cancelled');
    expect(after.get('unheard-recv')).toBeUndefined();
  });

  it('stops the run at a setEvent or a send: the next operation never starts', async () => {
    // Each sleeps briefly, is cancelled during the sleep, and writes its setEvent or send after it.
    for (const [uuid, run, name] of [
      ['unheard-event', () => runtime.client.invoke(Unheard, { workflowUUID: 'unheard-event' }).setsEvent(), 'operon.setEvent'],
      ['unheard-send', () => runtime.client.invoke(Unheard, { workflowUUID: 'unheard-send' }).sends(), 'operon.send'],
    ] as const) {
      await run();
      await until(() => recorded(uuid, 'operon.sleep'), `${uuid} sleeping`);
      await cancelSilently(uuid);
      expect(await outcome(uuid)).toBe('cancelled');
      expect(await recorded(uuid, name)).toBe(true);
      expect(after.get(uuid)).toBeUndefined();
    }
  });

  it('stops a sleeping workflow once the listener is back from a lost connection', async () => {
    await runtime.client.invoke(Unheard, { workflowUUID: 'unheard-sleep' }).sleeps();
    await until(() => recorded('unheard-sleep', 'operon.sleep'), 'sleeping');
    // The listener's connection drops and the cancel lands while it is away.
    const cut = await query(sysDb, `SELECT pg_terminate_backend(pid) AS cut FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN %'`);
    expect(cut.length).toBeGreaterThan(0);
    await cancelSilently('unheard-sleep');
    expect(await outcome('unheard-sleep')).toBe('cancelled');
    expect(after.get('unheard-sleep')).toBeUndefined();
  });
});
