/**
 * A header-bound argument typed by the route schema (`schema.headers`, format date-time or type
 * integer) reached the handler as the raw string: a Date header was not a Date, so the handler
 * failed on it and the request answered a 500. A header argument is now typed like a query or body
 * one: a schema `format: 'date'`/`'date-time'` makes it a Date, and a value that does not parse
 * (a date, a number) is a 400 naming the header, never a 500.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { GetApi, type HandlerContext } from '@operon/sdk';
import { createHttpServer, type OperonRuntime } from '@operon/runtime';
import { startRuntime, testConfig } from '../helpers/test-databases.js';

class Stamped {
  @GetApi('/stamped/since', {
    args: [{ name: 'X-Since', source: 'header' }],
    schema: { headers: { type: 'object', properties: { 'X-Since': { type: 'string', format: 'date-time' } } } },
  })
  static async since(_ctx: HandlerContext, since: Date): Promise<object> {
    return { since: since.toISOString() };
  }

  @GetApi('/stamped/page', {
    args: [{ name: 'x-page', source: 'header' }],
    schema: { headers: { type: 'object', properties: { 'x-page': { type: 'integer' } } } },
  })
  static async page(_ctx: HandlerContext, page: number): Promise<object> {
    return { next: page + 1 };
  }

  @GetApi('/stamped/at', { args: [{ name: 'x-at', source: 'header', type: 'date' }] })
  static async at(_ctx: HandlerContext, at: Date): Promise<object> {
    return { at: at.toISOString() };
  }
}

let runtime: OperonRuntime;
let app: Awaited<ReturnType<typeof createHttpServer>>;

beforeAll(async () => {
  runtime = await startRuntime([Stamped], testConfig('header_args'));
  app = await createHttpServer(runtime);
});

afterAll(async () => {
  await app?.close();
  await runtime?.destroy();
});

it('a header the schema types as a date-time arrives as a Date', async () => {
  const res = await app.inject({ method: 'GET', url: '/stamped/since', headers: { 'x-since': '2026-03-01T12:00:00+02:00' } });
  expect(res.statusCode).toBe(200);
  expect(res.json()).toEqual({ since: '2026-03-01T10:00:00.000Z' });
});

it('a date header that does not parse is a 400 naming the header', async () => {
  for (const url of ['/stamped/since', '/stamped/at']) {
    const name = url.endsWith('since') ? 'x-since' : 'x-at';
    const res = await app.inject({ method: 'GET', url, headers: { [name]: 'soon' } });
    expect(res.statusCode, url).toBe(400);
    expect(res.json().error, url).toContain(name);
  }
});

it('a number header that does not parse is a 400 naming the header; one that does arrives as a number', async () => {
  const bad = await app.inject({ method: 'GET', url: '/stamped/page', headers: { 'x-page': 'two' } });
  expect(bad.statusCode).toBe(400);
  expect(bad.json().error).toBe('headers/x-page must be integer');
  const good = await app.inject({ method: 'GET', url: '/stamped/page', headers: { 'x-page': '2' } });
  expect(good.json()).toEqual({ next: 3 });
});
