/**
 * The app's schedules: each `@Scheduled` workflow with its crontab read in its zone. Checked when
 * the runtime is created, so a crontab that does not parse, a zone that does not exist or a
 * schedule on anything but a workflow stops `operon start` with the method named.
 */
import { CATCH_UP_POLICIES, OperonScheduleError, type CatchUpPolicy, type ScheduleOptions } from '@operon/sdk';
import type { FunctionRegistry, RegisteredFunction } from '../executor/function-registry.js';
import { CronSchedule, CronScheduleError } from './cron-schedule.js';

export const DEFAULT_MAX_CATCH_UP = 100;
/**
 * The most missed ticks one catch-up runs. They are computed on the event loop and inserted in
 * one statement; a wider window is what `operon schedules backfill` is for.
 */
export const MAX_CATCH_UP = 1_000;

export interface ScheduledWorkflow {
  /** `Class.method`. */
  readonly name: string;
  readonly fn: RegisteredFunction;
  readonly cron: CronSchedule;
  readonly catchUp: CatchUpPolicy;
  readonly maxCatchUp: number;
}

export function scheduledWorkflows(registry: FunctionRegistry): ScheduledWorkflow[] {
  const found: ScheduledWorkflow[] = [];
  for (const fn of registry.all()) {
    if (!fn.method.schedule) continue;
    const options = checkOptions(fn.name, fn.method.schedule);
    if (fn.method.kind !== 'workflow') {
      const what = fn.method.kind ? `a @${fn.method.kind[0]!.toUpperCase()}${fn.method.kind.slice(1)}` : 'not marked @Workflow';
      throw new OperonScheduleError(fn.name, `only a @Workflow can be scheduled, and it is ${what}`);
    }
    let cron: CronSchedule;
    try {
      cron = new CronSchedule(options.crontab, options.timezone ?? 'UTC');
    } catch (error) {
      if (error instanceof CronScheduleError) throw new OperonScheduleError(fn.name, error.message);
      throw error;
    }
    found.push({ name: fn.name, fn, cron, catchUp: options.catchUp ?? 'none', maxCatchUp: options.maxCatchUp ?? DEFAULT_MAX_CATCH_UP });
  }
  return found;
}

function checkOptions(name: string, options: unknown): ScheduleOptions {
  if (typeof options !== 'object' || options === null) throw new OperonScheduleError(name, 'pass an options object with a crontab');
  const { crontab, timezone, catchUp, maxCatchUp, ...rest } = options as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) {
    throw new OperonScheduleError(name, `unknown option ${unknown.map((k) => JSON.stringify(k)).join(', ')}; the options are crontab, timezone, catchUp, maxCatchUp`);
  }
  if (typeof crontab !== 'string' || crontab.trim() === '') throw new OperonScheduleError(name, `crontab must be a non-empty string, got ${shown(crontab)}`);
  if (timezone !== undefined && (typeof timezone !== 'string' || timezone === '')) {
    throw new OperonScheduleError(name, `timezone must be an IANA zone name such as "Europe/Paris", got ${shown(timezone)}`);
  }
  if (catchUp !== undefined && !(CATCH_UP_POLICIES as readonly unknown[]).includes(catchUp)) {
    throw new OperonScheduleError(name, `catchUp must be one of ${CATCH_UP_POLICIES.join(', ')}, got ${shown(catchUp)}`);
  }
  if (maxCatchUp !== undefined && (typeof maxCatchUp !== 'number' || !Number.isInteger(maxCatchUp) || maxCatchUp < 1 || maxCatchUp > MAX_CATCH_UP)) {
    throw new OperonScheduleError(
      name,
      `maxCatchUp must be a whole number from 1 to ${MAX_CATCH_UP}, got ${shown(maxCatchUp)}; backfill a wider window with \`operon schedules backfill\``,
    );
  }
  return options as ScheduleOptions;
}

function shown(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') return String(value);
  return value === null ? 'null' : `a ${typeof value}`;
}
