/**
 * Regression: `maxCatchUp` had no upper bound. With `catchUp: 'all'` after downtime, the runtime
 * computes that many ticks in one go on its event loop (a per-second crontab costs about 0.3 ms a
 * tick: 100,000 took about 30 s) and inserts them in one statement; past about 100,000 the
 * spread into the tick list throws, so every start of the app failed. A maxCatchUp above
 * MAX_CATCH_UP is now refused when the runtime is created, naming the method (a wider window is
 * what `operon schedules backfill` is for).
 */
import { describe, expect, it } from 'vitest';
import { OperonScheduleError, Scheduled, Workflow, type WorkflowContext } from '@operon/sdk';
import { MAX_CATCH_UP, OperonRuntime } from '@operon/runtime';
import { testConfig } from '../helpers/test-databases.js';

async function creationError(cls: unknown): Promise<unknown> {
  const config = testConfig('sched_huge', { database: { hostname: '192.0.2.1', port: 1 } });
  return OperonRuntime.create({ config, classes: [cls] }).then(
    async (runtime) => {
      await runtime.destroy();
      return undefined;
    },
    (error: unknown) => error,
  );
}

describe('maxCatchUp', () => {
  it('is refused above its bound when the runtime is created', async () => {
    class EverySecond {
      @Scheduled({ crontab: '* * * * * *', catchUp: 'all', maxCatchUp: 1_000_000_000 })
      @Workflow()
      static async tick(_ctx: WorkflowContext): Promise<void> {}
    }
    const error = await creationError(EverySecond);
    expect(error).toBeInstanceOf(OperonScheduleError);
    expect((error as Error).message).toBe(
      `@Scheduled on EverySecond.tick: maxCatchUp must be a whole number from 1 to ${MAX_CATCH_UP}, got 1000000000; backfill a wider window with \`operon schedules backfill\``,
    );
  });

  it('is accepted at its bound (creation goes on to the database, unreachable here)', async () => {
    class AtBound {
      @Scheduled({ crontab: '0 3 * * *', catchUp: 'all', maxCatchUp: MAX_CATCH_UP })
      @Workflow()
      static async tick(_ctx: WorkflowContext): Promise<void> {}
    }
    expect(await creationError(AtBound)).not.toBeInstanceOf(OperonScheduleError);
  });
});
