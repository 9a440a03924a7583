/**
 * Tick computation, on explicit instants: DST transition days in America/New_York and
 * Europe/London (a skipped local time runs once at the next valid instant, a repeated one once),
 * seconds fields, and the shape of a daily crontab in a non-UTC zone computed across day
 * boundaries, which must give one tick a day (not one an hour).
 */
import { describe, expect, it } from 'vitest';
import { CronSchedule } from '../../packages/runtime/src/schedules/cron-schedule.js';

const at = (iso: string) => Date.parse(iso);
const iso = (ticks: readonly number[]) => ticks.map((t) => new Date(t).toISOString());

describe('ticks in UTC', () => {
  it('reads five fields (minute first) and six (second first)', () => {
    expect(iso(new CronSchedule('*/20 * * * * *').between(at('2026-01-01T00:00:00Z'), at('2026-01-01T00:01:00Z')))).toEqual([
      '2026-01-01T00:00:20.000Z',
      '2026-01-01T00:00:40.000Z',
      '2026-01-01T00:01:00.000Z',
    ]);
    expect(iso(new CronSchedule('15 10 * * *').between(at('2026-01-01T00:00:00Z'), at('2026-01-03T00:00:00Z')))).toEqual([
      '2026-01-01T10:15:00.000Z',
      '2026-01-02T10:15:00.000Z',
    ]);
  });

  it('gives the latest ticks at or before an instant, in order', () => {
    const cron = new CronSchedule('*/10 * * * * *');
    expect(iso(cron.latest(3, at('2026-01-01T00:01:05Z')))).toEqual([
      '2026-01-01T00:00:40.000Z',
      '2026-01-01T00:00:50.000Z',
      '2026-01-01T00:01:00.000Z',
    ]);
    expect(iso(cron.latest(1, at('2026-01-01T00:01:00Z')))).toEqual(['2026-01-01T00:01:00.000Z']);
    expect(cron.latest(0, at('2026-01-01T00:01:00Z'))).toEqual([]);
  });

  it('refuses a crontab that does not parse, one that never fires, and a zone that does not exist', () => {
    expect(() => new CronSchedule('61 * * * *')).toThrow(/crontab "61 \* \* \* \*" does not parse/);
    expect(() => new CronSchedule('* * * *')).toThrow(/does not parse/);
    expect(() => new CronSchedule('0 0 30 2 *')).toThrow(/never fires/);
    expect(() => new CronSchedule('0 9 * * *', 'Mars/Olympus')).toThrow(/timezone "Mars\/Olympus" is not an IANA zone/);
  });
});

describe('America/New_York', () => {
  const zone = 'America/New_York';

  it('runs a daily 02:30 once at 03:00 EDT on the day 02:00-03:00 is skipped (2026-03-08)', () => {
    const ticks = new CronSchedule('30 2 * * *', zone).between(at('2026-03-07T00:00:00Z'), at('2026-03-10T00:00:00Z'));
    expect(iso(ticks)).toEqual([
      '2026-03-07T07:30:00.000Z', // 02:30 EST
      '2026-03-08T07:00:00.000Z', // 02:30 does not exist: 03:00 EDT, the next valid instant
      '2026-03-09T06:30:00.000Z', // 02:30 EDT
    ]);
  });

  it('runs two skipped local times of one gap as one tick', () => {
    const ticks = new CronSchedule('0,30 2 * * *', zone).between(at('2026-03-08T00:00:00Z'), at('2026-03-08T12:00:00Z'));
    expect(iso(ticks)).toEqual(['2026-03-08T07:00:00.000Z']);
  });

  it('runs a daily 01:30 once on the day 01:00-02:00 repeats (2026-11-01)', () => {
    const ticks = new CronSchedule('30 1 * * *', zone).between(at('2026-10-31T00:00:00Z'), at('2026-11-03T00:00:00Z'));
    expect(iso(ticks)).toEqual([
      '2026-10-31T05:30:00.000Z', // 01:30 EDT
      '2026-11-01T05:30:00.000Z', // the first 01:30 (EDT); the second (06:30Z, EST) does not run
      '2026-11-02T06:30:00.000Z', // 01:30 EST
    ]);
  });

  it('runs an hourly crontab once per local hour across the repeated hour, in order', () => {
    const ticks = new CronSchedule('0 * * * *', zone).between(at('2026-11-01T03:30:00Z'), at('2026-11-01T08:30:00Z'));
    expect(iso(ticks)).toEqual([
      '2026-11-01T04:00:00.000Z', // 00:00 EDT
      '2026-11-01T05:00:00.000Z', // 01:00 EDT; 01:00 EST (06:00Z) is that local time again
      '2026-11-01T07:00:00.000Z', // 02:00 EST
      '2026-11-01T08:00:00.000Z', // 03:00 EST
    ]);
    // Asked from inside the repeated hour's second pass, the next tick is 02:00 EST.
    expect(iso([new CronSchedule('0 * * * *', zone).nextAfter(at('2026-11-01T06:20:00Z'))!])).toEqual(['2026-11-01T07:00:00.000Z']);
  });

  it('gives the latest ticks across a transition, each once', () => {
    const cron = new CronSchedule('30 1 * * *', zone);
    expect(iso(cron.latest(2, at('2026-11-01T12:00:00Z')))).toEqual(['2026-10-31T05:30:00.000Z', '2026-11-01T05:30:00.000Z']);
    expect(iso(new CronSchedule('30 2 * * *', zone).latest(2, at('2026-03-08T12:00:00Z')))).toEqual([
      '2026-03-07T07:30:00.000Z',
      '2026-03-08T07:00:00.000Z',
    ]);
  });
});

describe('Europe/London', () => {
  const zone = 'Europe/London';

  it('runs a daily 01:30 once at 02:00 BST on the day 01:00-02:00 is skipped (2026-03-29)', () => {
    const ticks = new CronSchedule('30 1 * * *', zone).between(at('2026-03-28T00:00:00Z'), at('2026-03-31T00:00:00Z'));
    expect(iso(ticks)).toEqual(['2026-03-28T01:30:00.000Z', '2026-03-29T01:00:00.000Z', '2026-03-30T00:30:00.000Z']);
  });

  it('runs a daily 01:30 once on the day 01:00-02:00 repeats (2026-10-25)', () => {
    const ticks = new CronSchedule('30 1 * * *', zone).between(at('2026-10-24T00:00:00Z'), at('2026-10-27T00:00:00Z'));
    expect(iso(ticks)).toEqual(['2026-10-24T00:30:00.000Z', '2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z']);
  });

  it('keeps a per-second crontab in order through both transitions', () => {
    for (const [from, until] of [
      ['2026-03-29T00:59:50Z', '2026-03-29T01:00:10Z'],
      ['2026-10-25T00:59:50Z', '2026-10-25T02:00:10Z'],
    ] as const) {
      const ticks = new CronSchedule('* * * * * *', zone).between(at(from), at(until));
      for (let i = 1; i < ticks.length; i++) expect(ticks[i]!).toBeGreaterThan(ticks[i - 1]!);
      expect(new Set(ticks).size).toBe(ticks.length);
    }
  });
});

describe('a daily crontab in a non-UTC zone runs daily', () => {
  it.each(['America/Los_Angeles', 'Asia/Tokyo', 'Asia/Kolkata', 'Australia/Adelaide'])(
    '0 9 * * * in %s: one tick a day when asked every hour across day boundaries',
    (zone) => {
      const cron = new CronSchedule('0 9 * * *', zone);
      // The way a scheduler asks: from each handled tick (or each wake-up) to the next.
      const start = at('2026-06-01T00:00:00Z');
      let next = cron.nextAfter(start)!;
      const ran: number[] = [];
      for (let now = start; now <= start + 5 * 24 * 3_600_000; now += 3_600_000) {
        while (next <= now) {
          ran.push(next);
          next = cron.nextAfter(next)!;
        }
      }
      expect(ran).toHaveLength(5);
      for (let i = 1; i < ran.length; i++) expect(ran[i]! - ran[i - 1]!).toBe(24 * 3_600_000);
      const local = new Intl.DateTimeFormat('en-GB', { timeZone: zone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
      for (const tick of ran) expect(local.format(tick)).toBe('09:00');
    },
  );
});
