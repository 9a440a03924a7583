/**
 * The ticks of a crontab in an IANA zone, as epoch milliseconds.
 *
 * A crontab names local (wall-clock) times. The cron library reads it on a clock without DST
 * (UTC), giving wall-clock times in order; each is then placed in the zone here, by one rule:
 * - a wall-clock time the zone has once is that instant;
 * - one it has twice (the hour repeated when clocks go back) is its first instant only, so it
 *   runs once;
 * - one it never has (the hour skipped when clocks go forward) is the instant the gap ends, the
 *   next valid one; several skipped times of one gap become that one tick.
 * Placement never moves a later wall-clock time before an earlier one, so the ticks stay in order.
 */
import { Cron } from 'croner';

const HOUR_MS = 3_600_000;
/** Beyond any DST shift or zone change of one day. */
const DAY_MS = 24 * HOUR_MS;
/** A bound on the cron library's steps for one answer (the repeated hour of a per-second crontab is 3,600). */
const MAX_STEPS = 100_000;

/** The reason a crontab or zone cannot be used; the caller names the schedule. */
export class CronScheduleError extends Error {}

export class CronSchedule {
  private readonly wallClock: Cron;
  private readonly zone: ZoneOffsets | undefined;

  constructor(
    readonly crontab: string,
    readonly timezone = 'UTC',
  ) {
    this.zone = isUtc(timezone) ? undefined : new ZoneOffsets(timezone);
    try {
      this.wallClock = new Cron(crontab, { timezone: 'UTC', mode: '5-or-6-parts', paused: true });
    } catch (error) {
      throw new CronScheduleError(`crontab ${JSON.stringify(crontab)} does not parse: ${(error as Error).message}`);
    }
    if (this.nextAfter(Date.UTC(2000, 0, 1)) === undefined) {
      throw new CronScheduleError(`crontab ${JSON.stringify(crontab)} never fires`);
    }
  }

  /** The first tick strictly after `instant`; undefined if there is none. */
  nextAfter(instant: number): number | undefined {
    let wall = this.wallOf(instant);
    for (let step = 0; step < MAX_STEPS; step++) {
      const next = this.wallClock.nextRun(new Date(wall));
      if (!next) return undefined;
      wall = next.getTime();
      const tick = this.instantOf(wall);
      // In the second pass of a repeated hour, its wall-clock times ran already (their first instant).
      if (tick > instant) return tick;
    }
    return undefined;
  }

  /** The ticks in (after, until], in order. */
  between(after: number, until: number): number[] {
    const ticks: number[] = [];
    for (let t = this.nextAfter(after); t !== undefined && t <= until; t = this.nextAfter(t)) ticks.push(t);
    return ticks;
  }

  /** The latest `count` ticks at or before `until` (fewer if the crontab has fewer), in order. */
  latest(count: number, until: number): number[] {
    if (count <= 0) return [];
    // Near a DST change (or far from UTC's simplicity) walk forward over the last day, exactly;
    // elsewhere the library steps back over wall-clock times, which then map one to one.
    const steady = this.zone === undefined || this.zone.offsetAt(until - DAY_MS) === this.zone.offsetAt(until);
    if (!steady) {
      // The window doubles until it holds `count` ticks: the walk costs about `count` steps, not a
      // day's worth (86,400 for a per-second crontab).
      let recent: number[] = [];
      for (let span = 1_000; ; span = Math.min(span * 2, DAY_MS)) {
        recent = this.between(until - span, until);
        if (recent.length >= count) return recent.slice(-count);
        if (span === DAY_MS) break;
      }
      const earlier = this.latestBySteppingBack(count - recent.length, until - DAY_MS);
      return [...earlier, ...recent];
    }
    return this.latestBySteppingBack(count, until);
  }

  private latestBySteppingBack(count: number, until: number): number[] {
    const walls = this.wallClock.previousRuns(count, new Date(this.wallOf(until) + 1));
    const ticks = [...new Set(walls.map((w) => this.instantOf(w.getTime())))].filter((t) => t <= until);
    return ticks.sort((a, b) => a - b);
  }

  /** The wall-clock time of `instant` in the zone, as epoch ms of that time read as UTC. */
  private wallOf(instant: number): number {
    return this.zone ? instant + this.zone.offsetAt(instant) : instant;
  }

  /** The instant a wall-clock time runs at, by the rule above. */
  private instantOf(wall: number): number {
    if (!this.zone) return wall;
    const before = this.zone.offsetAt(wall - DAY_MS);
    const after = this.zone.offsetAt(wall + DAY_MS);
    const candidates = [wall - before, wall - after].filter((instant) => this.wallOf(instant) === wall);
    if (candidates.length > 0) return Math.min(...candidates);
    // Skipped: the gap lies between these two instants; find where the new offset starts.
    let low = Math.min(wall - before, wall - after);
    let high = Math.max(wall - before, wall - after);
    while (high - low > 1) {
      const mid = Math.floor((low + high) / 2);
      if (this.wallOf(mid) > wall) high = mid;
      else low = mid;
    }
    // Ticks fall on whole seconds; the gap's end does too in every zone there is.
    return Math.ceil(high / 1000) * 1000;
  }
}

function isUtc(timezone: string): boolean {
  return timezone === 'UTC' || timezone === 'Etc/UTC';
}

/** A zone's UTC offset at any instant, read from the platform's IANA data. */
class ZoneOffsets {
  private readonly format: Intl.DateTimeFormat;

  constructor(readonly timezone: string) {
    try {
      this.format = new Intl.DateTimeFormat('en-US', {
        timeZone: timezone,
        hourCycle: 'h23',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
      });
    } catch {
      throw new CronScheduleError(`timezone ${JSON.stringify(timezone)} is not an IANA zone (such as "Europe/Paris" or "America/New_York")`);
    }
  }

  /** Milliseconds to add to UTC for local time at `instant`. */
  offsetAt(instant: number): number {
    const parts: Record<string, number> = {};
    for (const part of this.format.formatToParts(new Date(instant))) {
      if (part.type !== 'literal') parts[part.type] = Number(part.value);
    }
    const local = Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!);
    return local - (instant - (((instant % 1000) + 1000) % 1000));
  }
}
