/**
 * How a schedule is shown, by `GET /operon/schedules` and `operon schedules --json` alike: each of
 * the app's `@Scheduled` workflows with its last tick (the latest a run was started for, from the
 * system database) and its next (computed on the runtime's clock); then any schedule the database
 * knows that this app no longer has.
 */
import type { ScheduledWorkflow } from '../schedules/scheduled-workflows.js';
import type { ScheduleRow } from '../system-db/system-database.js';

export interface ScheduleView {
  /** `Class.method`. */
  readonly name: string;
  /** Null for a schedule the database knows that this app's code no longer has. */
  readonly crontab: string | null;
  readonly timezone: string | null;
  readonly catchUp: string | null;
  readonly maxCatchUp: number | null;
  /** ISO 8601; null before its first run. */
  readonly lastTick: string | null;
  /** ISO 8601; null when the crontab has no later tick, or the code no longer has the schedule. */
  readonly nextTick: string | null;
}

const isoOrNull = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

export function scheduleViews(schedules: readonly ScheduledWorkflow[], rows: readonly ScheduleRow[], now: number): ScheduleView[] {
  const byName = new Map(rows.map((row) => [row.scheduleName, row]));
  const views: ScheduleView[] = schedules.map((s) => ({
    name: s.name,
    crontab: s.cron.crontab,
    timezone: s.cron.timezone,
    catchUp: s.catchUp,
    maxCatchUp: s.maxCatchUp,
    lastTick: isoOrNull(byName.get(s.name)?.lastTick),
    nextTick: isoOrNull(s.cron.nextAfter(now)),
  }));
  const known = new Set(schedules.map((s) => s.name));
  for (const row of rows) {
    if (known.has(row.scheduleName)) continue;
    views.push({ name: row.scheduleName, crontab: null, timezone: null, catchUp: null, maxCatchUp: null, lastTick: isoOrNull(row.lastTick), nextTick: null });
  }
  return views.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
