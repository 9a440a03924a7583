/**
 * Regression: a date argument was checked only by the shape of its text and then handed to
 * `new Date`, which rolls impossible calendar days over instead of refusing them: `2026-02-30`
 * arrived as March 2, `2026-04-31` as May 1, `2026-02-29` (not a leap year) as March 1 and
 * `T24:00:00Z` as the next midnight. A date-time without an offset (`2026-03-01T12:00:00`) was read
 * in the server's own time zone, so the same request meant another instant on another machine.
 * Each is now a 400 naming the argument; real dates, leap days and offsets still bind.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { PostApi, type HandlerContext } from '@operon/sdk';
import { createHttpServer, type OperonRuntime } from '@operon/runtime';
import { startRuntime, testConfig } from '../helpers/test-databases.js';

class Bookings {
  @PostApi('/bookings', { args: [{ name: 'at', type: 'date' }] })
  static async book(_ctx: HandlerContext, at: Date): Promise<string> {
    return at.toISOString();
  }
}

let runtime: OperonRuntime;
let app: Awaited<ReturnType<typeof createHttpServer>>;

beforeAll(async () => {
  runtime = await startRuntime([Bookings], testConfig('baddate'));
  app = await createHttpServer(runtime);
});

afterAll(async () => {
  await app?.close();
  await runtime?.destroy();
});

const book = (at: string) => app.inject({ method: 'POST', url: '/bookings', payload: { at } });

it('refuses a day the month does not have, an hour 24 and a date-time without an offset', async () => {
  for (const at of ['2026-02-30', '2026-04-31', '2026-02-29', '2026-00-10', '2026-03-01T24:00:00Z', '2026-03-01T12:00:00', '2026-03-01 12:00']) {
    const res = await book(at);
    expect({ at, status: res.statusCode }).toEqual({ at, status: 400 });
    expect(res.json().error).toMatch(/^argument "at" of Bookings\.book must be an ISO 8601 date or date-time/);
  }
});

it('binds real dates, leap days and date-times with an offset', async () => {
  const cases: Record<string, string> = {
    '2024-02-29': '2024-02-29T00:00:00.000Z',
    '2000-02-29': '2000-02-29T00:00:00.000Z',
    '2026-12-31T23:59:59.5Z': '2026-12-31T23:59:59.500Z',
    '2026-03-01T12:30:00+02:00': '2026-03-01T10:30:00.000Z',
    '2026-03-01T12:30-0130': '2026-03-01T14:00:00.000Z',
  };
  for (const [at, iso] of Object.entries(cases)) {
    const res = await book(at);
    expect({ at, status: res.statusCode, body: res.body }).toEqual({ at, status: 200, body: iso });
  }
});
