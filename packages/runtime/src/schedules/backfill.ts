/**
 * `operon schedules backfill`: the runs of a schedule's ticks in a window, each under the UUID
 * derived from its tick, so calling it again (or while the executors run the schedule) starts
 * nothing twice. The runs are inserted for this runtime's executor instance, which then stops and
 * hands them over: the running executors adopt them at their next heartbeat (or, with none
 * running, the next `operon start` does).
 */
import { scheduledUUID } from '../client/identifiers.js';
import type { OperonRuntime } from '../runtime.js';
import type { DueTick } from '../system-db/system-database.js';
import type { ScheduledWorkflow } from './scheduled-workflows.js';
import { tickInputs } from './tick-inputs.js';

/** The most ticks one backfill starts; a wider window is refused (split it). */
export const MAX_BACKFILL_TICKS = 10_000;
/** Ticks per statement. */
const CHUNK = 1_000;

export interface BackfillResult {
  /** The ticks in the window. */
  readonly ticks: number;
  /** Runs started now; the others existed already. */
  readonly started: number;
}

/** The ticks of `schedule` from `from` to `until` (both included, epoch ms). */
export function backfillTicks(schedule: ScheduledWorkflow, from: number, until: number): number[] {
  const ticks: number[] = [];
  for (let t = schedule.cron.nextAfter(from - 1); t !== undefined && t <= until; t = schedule.cron.nextAfter(t)) {
    ticks.push(t);
    if (ticks.length > MAX_BACKFILL_TICKS) break;
  }
  return ticks;
}

/** Starts the runs of `ticks` that do not exist yet; the runtime must run workflows (it owns them until it stops). */
export async function backfillSchedule(runtime: OperonRuntime, schedule: ScheduledWorkflow, ticks: readonly number[]): Promise<BackfillResult> {
  const lease = runtime.executor.lease;
  const owner = { instanceId: lease.instanceId, executorId: lease.executorId };
  let started = 0;
  for (let i = 0; i < ticks.length; i += CHUNK) {
    const now = runtime.executor.deps.clock.now();
    const chunk: DueTick[] = ticks.slice(i, i + CHUNK).map((tick) => ({
      scheduleName: schedule.name,
      workflowUUID: scheduledUUID(schedule.name, tick),
      tick,
      inputs: tickInputs(tick, now),
    }));
    started += (await runtime.systemDb.startDueTicks(owner, chunk, now)).mine.length;
  }
  return { ticks: ticks.length, started };
}
