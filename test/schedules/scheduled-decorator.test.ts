/**
 * `@Scheduled` in both decorator modes, and every way it can be wrong: each fails with
 * OPERON_ERR_SCHEDULE_INVALID naming the method when the runtime is created, before any
 * database is touched.
 */
import { describe, expect, it } from 'vitest';
import { Communicator, OperonScheduleError, Scheduled, Workflow, getClassRegistration, type CommunicatorContext, type WorkflowContext } from '@operon/sdk';
import { OperonRuntime } from '@operon/runtime';
import { LegacyNightly } from './fixtures/nightly.legacy-decorators.js';
import { testConfig } from '../helpers/test-databases.js';

class StandardNightly {
  @Scheduled({ crontab: '0 3 * * *', timezone: 'Europe/London', catchUp: 'latest' })
  @Workflow()
  static async run(_ctx: WorkflowContext, scheduledTime: Date, _startTime: Date): Promise<number> {
    return scheduledTime.getTime();
  }
}

/** Creating a runtime over `cls` must fail; its error. The config names a database that is never reached. */
async function creationError(cls: unknown): Promise<unknown> {
  const config = testConfig('sched_bad', { database: { hostname: '192.0.2.1', port: 1 } });
  return OperonRuntime.create({ config, classes: [cls] }).then(
    async (runtime) => {
      await runtime.destroy();
      return undefined;
    },
    (error: unknown) => error,
  );
}

describe('@Scheduled', () => {
  it.each([
    ['standard decorators', StandardNightly],
    ['experimentalDecorators', LegacyNightly],
  ])('records its options under %s', (_mode, cls) => {
    const method = getClassRegistration(cls)!.methods.get('run')!;
    expect(method.kind).toBe('workflow');
    expect(method.schedule).toEqual({ crontab: '0 3 * * *', timezone: 'Europe/London', catchUp: 'latest' });
  });

  it('fails runtime creation, naming the method, for options of the wrong type', async () => {
    const attempts: [unknown, RegExp][] = [
      [{ crontab: '' }, /crontab must be a non-empty string, got ""/],
      [{ crontab: 5 }, /crontab must be a non-empty string, got 5/],
      [{ crontab: '* * * * *', catchUp: 'some' }, /catchUp must be one of none, latest, all, got "some"/],
      [{ crontab: '* * * * *', maxCatchUp: 0 }, /maxCatchUp must be a whole number from 1 to 1000, got 0/],
      [{ crontab: '* * * * *', timezone: 3 }, /timezone must be an IANA zone name/],
      [{ crontab: '* * * * *', catchup: 'all' }, /unknown option "catchup"/],
    ];
    for (const [options, message] of attempts) {
      class Bad {
        @Scheduled(options as never)
        @Workflow()
        static async tick(_ctx: WorkflowContext): Promise<void> {}
      }
      const error = await creationError(Bad);
      expect(error).toBeInstanceOf(OperonScheduleError);
      expect((error as Error).message).toMatch(/^@Scheduled on Bad\.tick: /);
      expect((error as Error).message).toMatch(message);
      expect((error as OperonScheduleError).code).toBe('OPERON_ERR_SCHEDULE_INVALID');
    }
  });

  it('fails runtime creation, naming the method, for a crontab that does not parse or a zone that does not exist', async () => {
    class BadCron {
      @Scheduled({ crontab: '0 25 * * *' })
      @Workflow()
      static async nightly(_ctx: WorkflowContext): Promise<void> {}
    }
    class BadZone {
      @Scheduled({ crontab: '0 3 * * *', timezone: 'Europe/Atlantis' })
      @Workflow()
      static async nightly(_ctx: WorkflowContext): Promise<void> {}
    }
    const cron = await creationError(BadCron);
    expect(cron).toBeInstanceOf(OperonScheduleError);
    expect((cron as Error).message).toMatch(/^@Scheduled on BadCron\.nightly: crontab "0 25 \* \* \*" does not parse/);
    const zone = await creationError(BadZone);
    expect(zone).toBeInstanceOf(OperonScheduleError);
    expect((zone as Error).message).toBe('@Scheduled on BadZone.nightly: timezone "Europe/Atlantis" is not an IANA zone (such as "Europe/Paris" or "America/New_York")');
  });

  it('fails runtime creation for a schedule on anything but a workflow', async () => {
    class NotAWorkflow {
      @Scheduled({ crontab: '* * * * *' })
      @Communicator()
      static async ping(_ctx: CommunicatorContext): Promise<void> {}
    }
    const error = await creationError(NotAWorkflow);
    expect(error).toBeInstanceOf(OperonScheduleError);
    expect((error as Error).message).toBe('@Scheduled on NotAWorkflow.ping: only a @Workflow can be scheduled, and it is a @Communicator');
  });
});
