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
 * `none` runs none of them, `latest` the latest, `all` the latest `maxCatchUp`. Ticks of a
 * statement that failed (the database was away) are sent again with the next, and the same rule
 * applies to them once they are late: an outage is a stretch of missed ticks like any other.
 *
 * On the database's clock, the loop starts only once the clock has a trustworthy reading (until
 * then it is the host's, which may be far off), and goes by a time never more than
 * {@link MAX_AHEAD_MS} off the database's as its last answer gave it: no tick starts early on a
 * host clock ahead, nor late on one behind.
 */
import type { Logger } from 'pino';
import { scheduledUUID } from '../client/identifiers.js';
import type { DatabaseClock } from '../executor/database-clock.js';
import { realTimer, type CancelTimer, type WorkflowClock } from '../executor/workflow-clock.js';
import type { WorkflowExecutor } from '../executor/workflow-executor.js';
import type { DueTick, SystemDatabase } from '../system-db/system-database.js';
import type { ScheduledWorkflow } from './scheduled-workflows.js';
import { tickInputs } from './tick-inputs.js';

/** A tick this late when the loop reaches it counts as missed. */
export const LATE_MS = 3_000;
/** No tick starts this long or more before the database's time, however far ahead the clock runs (nor this long after it, for a clock behind). */
export const MAX_AHEAD_MS = 1_000;
/** The shortest time between two statements, and the longest between two looks at the clock. */
const PERIOD_MS = 1_000;
/** Of the ticks of failed statements that are no longer sent, the newest this many are still looked for. */
const MAX_UNANSWERED = 10_000;

interface ScheduleState {
  readonly schedule: ScheduledWorkflow;
  /** Its first tick not handled yet. */
  next: number | undefined;
}

export interface SchedulerDeps {
  readonly systemDb: SystemDatabase;
  readonly executor: WorkflowExecutor;
  readonly clock: WorkflowClock;
  /** The clock, when it is the database's (not a test's virtual one): its readings are checked. */
  readonly databaseClock?: DatabaseClock;
  readonly logger: Logger;
}

export class Scheduler {
  private readonly states: ScheduleState[] = [];
  private readonly byName: ReadonlyMap<string, ScheduledWorkflow>;
  /** Ticks of a statement that failed: sent again with the next. */
  private retry: DueTick[] = [];
  /**
   * Ticks of failed statements that catchUp no longer sends. A failed statement may have
   * committed (its answer was lost): the next one that succeeds still asks which of these it owns.
   */
  private unanswered: DueTick[] = [];
  private cancelTimer: CancelTimer | undefined;
  private running: Promise<void> | undefined;
  private starting: Promise<void> | undefined;
  private stopped = false;
  /** When the last statement was sent (by {@link now}). */
  private lastStatementAt = -Infinity;
  /** The database's clock in its last answer, and when that came (performance.now()). */
  private databaseTime: { readonly ms: number; readonly at: number } | undefined;
  private offWarned = false;

  constructor(
    readonly deps: SchedulerDeps,
    readonly schedules: readonly ScheduledWorkflow[],
  ) {
    this.byName = new Map(schedules.map((s) => [s.name, s]));
  }

  /**
   * Reads where each schedule left off, handles what was missed, and starts the loop. On a
   * database clock with no trustworthy reading yet, all that waits for one (in the background:
   * the runtime's start does not).
   */
  async start(): Promise<void> {
    if (this.schedules.length === 0) return;
    const clock = this.deps.databaseClock;
    if (clock && !clock.trusted) {
      this.deps.logger.warn('the schedules wait for a trustworthy reading of the database clock (the host clock may be off)');
      this.starting = this.startWhenTrusted(clock);
      return;
    }
    await this.begin();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.cancelTimer?.();
    await this.starting;
    await this.running;
  }

  private async startWhenTrusted(clock: DatabaseClock): Promise<void> {
    while (!this.stopped) {
      try {
        await clock.untilTrusted(() => this.deps.systemDb.readDatabaseClock(), () => this.stopped);
        if (!this.stopped) await this.begin();
        return;
      } catch (error) {
        this.deps.logger.warn({ err: error }, 'the schedules could not start; trying again in a second');
        await new Promise((resolve) => setTimeout(resolve, PERIOD_MS));
      }
    }
  }

  private async begin(): Promise<void> {
    const now = this.deps.clock.now();
    const { rows, databaseNowMs } = await this.deps.systemDb.registerSchedules(this.schedules.map((s) => s.name), now);
    this.databaseTime = { ms: databaseNowMs, at: performance.now() };
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

  private schedule(): void {
    if (this.stopped) return;
    const now = this.now();
    const next = Math.min(...this.states.map((s) => s.next ?? Infinity));
    // The last statement's time lies ahead of now when the clock was set back since: the wait is
    // still never longer than a period.
    const at = Math.max(Math.min(next, now + PERIOD_MS), Math.min(this.lastStatementAt, now) + PERIOD_MS);
    this.cancelTimer = this.wakeAt(at, () => {
      this.running = this.iterate()
        .catch((error: unknown) => this.deps.logger.error({ err: error }, 'the scheduler failed to look at its due ticks; it looks again in a second'))
        .finally(() => {
        this.running = undefined;
        this.schedule();
      });
    });
  }

  /**
   * Calls `fire` once {@link now} reaches `at`. Through the workflow clock when it is a test's
   * virtual one (it drives the ticks); on the database's clock, by the bounded time: a timer set
   * while the host clock ran ahead must not wait for that time once the clock is set right.
   */
  private wakeAt(at: number, fire: () => void): CancelTimer {
    return this.deps.databaseClock ? realTimer(() => this.now(), at, fire) : this.deps.clock.at(at, fire);
  }

  /**
   * The clock's time, but on the database's clock never more than {@link MAX_AHEAD_MS} off the
   * database's time at its last answer (counted on from then by the monotonic clock): a host
   * clock stepped ahead between two readings starts no tick early, and one stepped back stops
   * none (its ticks would all be missed ones once it is set right).
   */
  private now(): number {
    const now = this.deps.clock.now();
    if (!this.deps.databaseClock || !this.databaseTime) return now;
    const database = Math.floor(this.databaseTime.ms + (performance.now() - this.databaseTime.at));
    const bounded = Math.min(Math.max(now, database - MAX_AHEAD_MS), database + MAX_AHEAD_MS);
    if (bounded === now) {
      this.offWarned = false;
      return now;
    }
    if (!this.offWarned) {
      this.offWarned = true;
      const way = now > bounded ? 'ahead of' : 'behind';
      this.deps.logger.warn({ offMs: Math.round(now - database) }, `the clock is ${way} the database; schedules go by the database until it agrees`);
    }
    return bounded;
  }

  /**
   * Starts the runs of every tick due now; ticks at or before `missedUntil` (by default, those
   * {@link LATE_MS} late) are missed ones.
   */
  private async iterate(missedUntil?: number): Promise<void> {
    const now = this.now();
    const missedBy = missedUntil ?? now - LATE_MS;
    const retried = new Map<string, DueTick[]>();
    for (const tick of this.retry) {
      const ticks = retried.get(tick.scheduleName);
      if (ticks) ticks.push(tick);
      else retried.set(tick.scheduleName, [tick]);
    }
    this.retry = [];
    const due: DueTick[] = [];
    const unanswered = this.unanswered;
    for (const state of this.states) {
      const { name } = state.schedule;
      const fresh = this.dueTicks(state, now, missedBy).map((tick) => ({ scheduleName: name, workflowUUID: scheduledUUID(name, tick), tick, inputs: tickInputs(tick, now) }));
      const again = retried.get(name);
      if (!again) {
        due.push(...fresh);
        continue;
      }
      const { kept, dropped } = this.catchUpRetried(state.schedule, again, fresh, missedBy);
      due.push(...kept);
      unanswered.push(...dropped);
    }
    this.unanswered = [];
    if ((due.length === 0 && unanswered.length === 0) || this.stopped) {
      this.unanswered = unanswered;
      return;
    }
    this.lastStatementAt = now;
    const lease = this.deps.executor.lease;
    const owner = { instanceId: lease.instanceId, executorId: lease.executorId };
    let mine: string[];
    try {
      const answer = await this.deps.systemDb.startDueTicks(owner, due, now, unanswered.map((tick) => tick.workflowUUID));
      mine = answer.mine;
      this.databaseTime = { ms: answer.databaseNowMs, at: performance.now() };
    } catch (error) {
      // Sent again next time: the UUIDs make it harmless if this one committed after all.
      this.retry = due;
      this.unanswered = unanswered.slice(-MAX_UNANSWERED);
      this.deps.logger.warn({ err: error, executorId: owner.executorId, ticks: due.length }, 'could not start the due ticks of schedules; trying again');
      return;
    }
    const byUUID = new Map([...unanswered, ...due].map((tick) => [tick.workflowUUID, tick]));
    for (const workflowUUID of mine) {
      const tick = byUUID.get(workflowUUID)!;
      this.deps.executor.runInserted(this.byName.get(tick.scheduleName)!.fn, workflowUUID, tick.inputs, owner.instanceId);
    }
  }

  /**
   * A schedule's ticks of failed statements beside its fresh ones: those late by now are missed
   * like ticks the loop reached late, so the schedule's catchUp picks which of them still run.
   */
  private catchUpRetried(schedule: ScheduledWorkflow, again: DueTick[], fresh: DueTick[], missedUntil: number): { kept: DueTick[]; dropped: DueTick[] } {
    // Retried ticks all come before fresh ones (the schedule's `next` moved past them).
    const all = [...again, ...fresh];
    const lastRetried = again[again.length - 1]!.tick;
    const late = all.filter((tick) => tick.tick <= missedUntil);
    const keep = keptOfMissed(schedule);
    const keptLate = late.slice(Math.max(0, late.length - keep));
    const dropped = late.slice(0, late.length - keptLate.length);
    if (dropped.length > 0) {
      this.deps.logger.info(
        { schedule: schedule.name, catchUp: schedule.catchUp, late: late.length, running: keptLate.length },
        `schedule ${schedule.name}: ${late.length} ticks waited for the database too long; catchUp ${schedule.catchUp} runs ${keptLate.length} of them`,
      );
    }
    return { kept: [...keptLate, ...all.filter((tick) => tick.tick > missedUntil)], dropped: dropped.filter((tick) => tick.tick <= lastRetried) };
  }

  /** The ticks of one schedule to start now, by its catch-up policy; moves its `next` on. */
  private dueTicks(state: ScheduleState, now: number, missedUntil: number): number[] {
    const { cron, catchUp, name } = state.schedule;
    const first = state.next;
    if (first === undefined || first > now) return [];
    const ticks: number[] = [];
    let from = first;
    if (first <= missedUntil) {
      ticks.push(...cron.latest(keptOfMissed(state.schedule), missedUntil).filter((tick) => tick >= first));
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

/** How many of a schedule's missed ticks still run. */
function keptOfMissed({ catchUp, maxCatchUp }: ScheduledWorkflow): number {
  return catchUp === 'none' ? 0 : catchUp === 'latest' ? 1 : maxCatchUp;
}
