/**
 * Load: a thousand schedules cost one "due ticks" statement per wake-up, at most one a second,
 * counted by Postgres itself (pg_stat_statements), and every schedule gets its run for every tick.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Scheduled, Workflow, type WorkflowContext } from '@operon/sdk';
import type { OperonRuntime } from '@operon/runtime';
import { connectTo, query, startRuntime, testConfig } from '../helpers/test-databases.js';

const SCHEDULES = 1_000;
const WINDOW_MS = 5_000;

/** A class with SCHEDULES scheduled workflows, decorated as `experimentalDecorators` code is. */
class Many {}
for (let i = 0; i < SCHEDULES; i++) {
  const name = `s${i}`;
  const descriptor = { value: async (_ctx: WorkflowContext, scheduledTime: Date) => scheduledTime.getTime() };
  Object.defineProperty(Many, name, { ...descriptor, configurable: true });
  Workflow()(Many, name, descriptor);
  Scheduled({ crontab: '*/2 * * * * *' })(Many, name, descriptor);
}

const server = inject('postgres');
const config = testConfig('sched_load', { database: { poolSize: 20 } });
let runtime: OperonRuntime | undefined;

beforeAll(async () => {
  const admin = await connectTo('postgres');
  await admin.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements').finally(() => admin.end());
});
afterAll(() => runtime?.destroy());

describe.runIf(server.statementStats)('a thousand schedules', () => {
  it('send at most one due-ticks statement a second, and every schedule runs every tick', async () => {
    runtime = await startRuntime([Many], config);
    const admin = await connectTo('postgres');
    try {
      // Counted as a difference, not after a reset: other test files count statements at the same time.
      const dueTicksStatements = async () => {
        const { rows } = await admin.query<{ calls: string }>(
          `SELECT coalesce(sum(calls), 0) AS calls FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
           WHERE d.datname = $1 AND s.query LIKE '%UPDATE operon.schedules%'`,
          [config.database.system_database],
        );
        return Number(rows[0]!.calls);
      };
      const before = await dueTicksStatements();
      const from = Date.now();
      await new Promise((resolve) => setTimeout(resolve, WINDOW_MS));
      const until = Date.now();
      const statements = (await dueTicksStatements()) - before;
      console.log(`${SCHEDULES} schedules, ${until - from} ms: ${statements} due-ticks statements`);
      expect(statements).toBeGreaterThanOrEqual(1);
      expect(statements).toBeLessThanOrEqual(Math.ceil((until - from) / 1000) + 1);

      // Every even second in the window has a run of every schedule, and only one.
      const perTick = await query<{ tick: string; runs: number; names: number }>(
        config.database.system_database,
        `SELECT inputs::json->'value'->>0 AS tick, count(*)::int AS runs, count(DISTINCT workflow_name)::int AS names
         FROM operon.workflow_status WHERE workflow_name LIKE 'Many.%' GROUP BY 1 ORDER BY 1`,
      );
      const inWindow = perTick.filter((r) => Date.parse(r.tick) > from && Date.parse(r.tick) <= until - 1_500);
      expect(inWindow.length).toBeGreaterThanOrEqual(1);
      for (const r of inWindow) expect({ tick: r.tick, runs: r.runs, names: r.names }).toEqual({ tick: r.tick, runs: SCHEDULES, names: SCHEDULES });
    } finally {
      await admin.end();
    }
  }, 60_000);
});
