/**
 * Regression: on the 24 hours after a DST change, finding a schedule's latest missed tick walked
 * forward over every tick of the whole past day, however few were asked for. For a per-second
 * crontab in America/New_York that is 86,400 steps (about 40 s of blocked event loop, long enough
 * for the executor's lease to lapse) on every start and every late wake-up with catchUp `latest`
 * or `all`. The walk now covers only as many ticks as were asked for, and still gives the exact
 * ticks across the transition.
 */
import { describe, expect, it, vi } from 'vitest';
import { CronSchedule } from '../../packages/runtime/src/schedules/cron-schedule.js';

const SPRING_FORWARD = Date.UTC(2026, 2, 8, 7); // New York 03:00 EDT, the end of the skipped hour
const FALL_BACK = Date.UTC(2026, 10, 1, 6); // New York 01:00 EST, the repeated hour's second pass

describe('latest missed ticks near a DST change', () => {
  it('steps over about as many ticks as are asked for, not over the whole day', () => {
    const cron = new CronSchedule('* * * * * *', 'America/New_York');
    const steps = vi.spyOn(cron, 'nextAfter');
    const until = SPRING_FORWARD + 3_600_000;
    expect(cron.latest(1, until)).toEqual([until]);
    expect(cron.latest(3, until)).toEqual([until - 2_000, until - 1_000, until]);
    expect(steps.mock.calls.length).toBeLessThan(1_000);
  });

  it('still gives the exact ticks across each transition', () => {
    const hourly = new CronSchedule('30 * * * *', 'America/New_York');
    // 01:30 EST, 00:30 EST, 01:30 EDT... around fall back: 01:30 runs once, at its first instant (05:30Z).
    expect(hourly.latest(3, FALL_BACK + 3 * 3_600_000)).toEqual(hourly.between(FALL_BACK - 86_400_000, FALL_BACK + 3 * 3_600_000).slice(-3));
    expect(hourly.latest(4, SPRING_FORWARD + 2 * 3_600_000)).toEqual(hourly.between(SPRING_FORWARD - 86_400_000, SPRING_FORWARD + 2 * 3_600_000).slice(-4));
    const perSecond = new CronSchedule('*/20 * * * * *', 'America/New_York');
    const around = FALL_BACK + 30_000;
    expect(perSecond.latest(5, around)).toEqual(perSecond.between(around - 3_600_000, around).slice(-5));
  });
});
