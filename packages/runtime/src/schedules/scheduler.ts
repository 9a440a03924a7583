/**
 * Starts the runs of the app's schedules on this executor. Every executor runs one of these, and
 * each tick gets exactly one run over all of them: its UUID is derived from the schedule and the
 * tick, and the first insert of it wins (that executor runs it; a run whose executor dies is
 * adopted like any other workflow).
 *
 * The loop wakes at the next tick of any schedule (at most once a second, at least once a
 * second) and sends one statement for the ticks of all schedules that fell due, so a thousand
 * schedules cost what one does. Time is the runtime's clock, never the host's or SQL's `now()`.
 *
 * Missed ticks follow each schedule's `catchUp`. At startup every tick since the schedule's last
 * recorded tick is missed (the process was down); while running, a tick is missed when this loop
 * reaches it more than {@link LATE_MS} after it fell due (the process was suspended, or starved):
 * `none` runs none of them, `latest` the latest, `all` the latest `maxCatchUp`.
 */
import type { Logger } from 'pino';
import { scheduledUUID } from '../client/identifiers.js';
import type { CancelTimer, WorkflowClock } from '../executor/workflow-clock.js';
import type { WorkflowExecutor } from '../executor/workflow-executor.js';
import type { DueTick, SystemDatabase } from '../system-db/system-database.js';
import type { ScheduledWorkflow } from './scheduled-workflows.js';
import { tickInputs } from './tick-inputs.js';

/** A tick this late when the loop reaches it counts as missed. */
export const LATE_MS = 3_000;
/** The shortest time between two statements, and the longest between two looks at the clock. */
const PERIOD_MS = 1_000;

interface ScheduleState {
  readonly schedule: ScheduledWorkflow;
  /** Its first tick not handled yet. */
  next: number | undefined;
}

export interface SchedulerDeps {
  readonly systemDb: SystemDatabase;
  readonly executor: WorkflowExecutor;
  readonly clock: WorkflowClock;
  readonly logger: Logger;
}

export class Scheduler {
  private readonly states: ScheduleState[] = [];
  private readonly byName: ReadonlyMap<string, ScheduledWorkflow>;
  /** Ticks of a statement that failed: sent again with the next. */
  private retry: DueTick[] = [];
  private cancelTimer: CancelTimer | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  /** When the last statement was sent (runtime clock). */
  private lastStatementAt = -Infinity;

  constructor(
    private readonly deps: SchedulerDeps,
    readonly schedules: readonly ScheduledWorkflow[],
  ) {
    this.byName = new Map(schedules.map((s) => [s.name, s]));
  }

  /** Reads where each schedule left off, handles what was missed, and starts the loop. */
  async start(): Promise<void> {
    if (this.schedules.length === 0) return;
    const now = this.deps.clock.now();
    const rows = await this.deps.systemDb.registerSchedules(this.schedules.map((s) => s.name), now);
    const byName = new Map(rows.map((row) => [row.scheduleName, row]));
    for (const schedule of this.schedules) {
      const row = byName.get(schedule.name);
      const handledUntil = row ? Math.max(row.lastTick ?? row.since, row.since) : now;
      this.states.push({ schedule, next: schedule.cron.nextAfter(handledUntil) });
    }
    // Everything due before this start was missed: the process was not running.
    await this.iterate(now);
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.cancelTimer?.();
    await this.running;
  }

  private schedule(): void {
    if (this.stopped) return;
    const now = this.deps.clock.now();
    const next = Math.min(...this.states.map((s) => s.next ?? Infinity));
    const at = Math.max(Math.min(next, now + PERIOD_MS), this.lastStatementAt + PERIOD_MS);
    // Through the workflow clock: a virtual clock in tests drives the ticks.
    this.cancelTimer = this.deps.clock.at(at, () => {
      this.running = this.iterate(this.deps.clock.now() - LATE_MS)
        .catch((error: unknown) => this.deps.logger.error({ err: error }, 'the scheduler failed to look at its due ticks; it looks again in a second'))
        .finally(() => {
        this.running = undefined;
        this.schedule();
      });
    });
  }

  /** Starts the runs of every tick due now; ticks at or before `missedUntil` are missed ones. */
  private async iterate(missedUntil: number): Promise<void> {
    const now = this.deps.clock.now();
    const due = this.retry;
    this.retry = [];
    for (const state of this.states) {
      for (const tick of this.dueTicks(state, now, missedUntil)) {
        due.push({ scheduleName: state.schedule.name, workflowUUID: scheduledUUID(state.schedule.name, tick), tick, inputs: tickInputs(tick, now) });
      }
    }
    if (due.length === 0 || this.stopped) return;
    this.lastStatementAt = now;
    const lease = this.deps.executor.lease;
    const owner = { instanceId: lease.instanceId, executorId: lease.executorId };
    let mine: string[];
    try {
      mine = await this.deps.systemDb.startDueTicks(owner, due, now);
    } catch (error) {
      // Sent again next time: the UUIDs make it harmless if this one committed after all.
      this.retry = due;
      this.deps.logger.warn({ err: error, executorId: owner.executorId, ticks: due.length }, 'could not start the due ticks of schedules; trying again');
      return;
    }
    const byUUID = new Map(due.map((tick) => [tick.workflowUUID, tick]));
    for (const workflowUUID of mine) {
      const tick = byUUID.get(workflowUUID)!;
      this.deps.executor.runInserted(this.byName.get(tick.scheduleName)!.fn, workflowUUID, tick.inputs, owner.instanceId);
    }
  }

  /** The ticks of one schedule to start now, by its catch-up policy; moves its `next` on. */
  private dueTicks(state: ScheduleState, now: number, missedUntil: number): number[] {
    const { cron, catchUp, maxCatchUp, name } = state.schedule;
    const first = state.next;
    if (first === undefined || first > now) return [];
    const ticks: number[] = [];
    let from = first;
    if (first <= missedUntil) {
      const keep = catchUp === 'none' ? 0 : catchUp === 'latest' ? 1 : maxCatchUp;
      ticks.push(...cron.latest(keep, missedUntil).filter((tick) => tick >= first));
      this.deps.logger.info(
        { schedule: name, catchUp, from: new Date(first).toISOString(), until: new Date(missedUntil).toISOString(), running: ticks.length },
        `schedule ${name} missed its ticks from ${new Date(first).toISOString()}; catchUp ${catchUp} runs ${ticks.length} of them`,
      );
      from = cron.nextAfter(missedUntil) ?? Infinity;
    }
    let tick: number | undefined = from;
    for (; tick !== undefined && tick <= now; tick = cron.nextAfter(tick)) ticks.push(tick);
    state.next = tick === Infinity ? undefined : tick;
    return ticks;
  }
}
