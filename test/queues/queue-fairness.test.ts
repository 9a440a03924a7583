/**
 * Fairness: beside a queue with 100,000 waiting workflows (draining at its limit the whole time),
 * every workflow enqueued on nine small queues starts promptly: one dequeue covers every queue,
 * and each queue's scan reads only the head of its own index. Prints the p50/p99 start latency.
 * The backlog is written in one INSERT (the rows an enqueue writes, with the same columns) to keep
 * the test short; the small queues' workflows are enqueued through the API.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Workflow, WorkflowQueue, type WorkflowContext } from '@operon/sdk';
import type { OperonRuntime } from '@operon/runtime';
import { query, startRuntime, testConfig } from '../helpers/test-databases.js';

const BACKLOG = 100_000;
const big = new WorkflowQueue('fair-big', { concurrency: 20 });
const small = Array.from({ length: 9 }, (_, i) => new WorkflowQueue(`fair-small-${i}`, { concurrency: 5 }));

class Fair {
  @Workflow()
  static async tick(_ctx: WorkflowContext, ms: number): Promise<number> {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return ms;
  }
}

let runtime: OperonRuntime;
let sys: string;

beforeAll(async () => {
  const config = testConfig('qfair');
  sys = config.database.system_database;
  runtime = await startRuntime([Fair], config);
  const now = runtime.executor.deps.clock.now();
  await query(
    sys,
    `INSERT INTO operon.workflow_status (workflow_uuid, status, workflow_name, kind, executor_id, inputs, created_at, updated_at,
       queue_name, queue_priority, queue_not_before, queue_seq)
     SELECT 'backlog-' || i, 'ENQUEUED', 'Fair.tick', 'workflow', '', '[5]', $1, $1, $2, 0, $1, nextval('operon.queue_seq')
     FROM generate_series(1, $3) AS i`,
    [now, big.name, BACKLOG],
  );
  await query(sys, 'ANALYZE operon.workflow_status');
});

afterAll(() => runtime?.destroy({ timeoutMs: 1_000 }));

describe('a big backlog beside small queues', () => {
  it('starts every workflow of nine small queues promptly while the big queue drains', async () => {
    runtime.executor.queues.wake();
    await new Promise((resolve) => setTimeout(resolve, 500));
    const fn = runtime.registry.lookup(Fair, 'tick');
    const handles = [];
    for (let round = 0; round < 10; round++) {
      for (const queue of small) handles.push(await runtime.executor.enqueueWorkflow(fn, [1], { queue: { queue } }));
      await new Promise((resolve) => setTimeout(resolve, 30));
    }
    await Promise.all(handles.map((h) => h.getResult()));
    const rows = await query(sys, 'SELECT queue_started_at - created_at AS ms FROM operon.workflow_status WHERE workflow_uuid = ANY($1)', [
      handles.map((h) => h.getWorkflowUUID()),
    ]);
    const latencies = rows.map((r) => Number(r.ms)).sort((a, b) => a - b);
    const p50 = latencies[Math.floor(latencies.length * 0.5)]!;
    const p99 = latencies[Math.ceil(latencies.length * 0.99) - 1]!;
    const [left] = await query(sys, `SELECT count(*)::int AS n FROM operon.workflow_status WHERE queue_name = $1 AND status = 'ENQUEUED'`, [big.name]);
    const [done] = await query(sys, `SELECT count(*)::int AS n FROM operon.workflow_status WHERE queue_name = $1 AND status = 'SUCCESS'`, [big.name]);
    console.log(`beside ${BACKLOG} waiting (${done.n} done, ${left.n} still waiting): 90 small-queue workflows started after p50 ${p50} ms, p99 ${p99} ms`);
    expect(latencies).toHaveLength(90);
    // The backlog was there the whole time, and drained.
    expect(left.n).toBeGreaterThan(BACKLOG / 2);
    expect(done.n).toBeGreaterThan(0);
    // Generous for a shared machine; a starved queue would wait for the backlog (minutes).
    expect(p99).toBeLessThan(500);
  });
});
