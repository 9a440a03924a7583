/**
 * Binds a handler's arguments: each from its declared source (path, query, body, header), or by
 * default from the path parameters first, then the query string (GET, DELETE) or the JSON body
 * (POST, PUT, PATCH). `undefined` is the only absence: `false`, `0`, `''` and `null` are values.
 * An absent parameter with a default takes its default; any other absence is a 400 naming every
 * missing argument. A date argument is parsed from an ISO 8601 string; an invalid one is a 400.
 */
import type { HttpArgSource, HttpMethod } from '@operon/sdk';
import { OperonHttpInvalidArgumentError, OperonHttpMissingArgumentError } from './http-errors.js';
import type { BoundParameter } from './handler-arguments.js';

export interface BindingSources {
  readonly params: unknown;
  readonly query: unknown;
  readonly body: unknown;
  readonly headers?: Readonly<Record<string, string | string[] | undefined>>;
}

function fieldOf(source: unknown, name: string): unknown {
  if (typeof source !== 'object' || source === null || Array.isArray(source)) return undefined;
  // Own fields only: a parameter named `constructor` must not bind Object.prototype's.
  return Object.hasOwn(source, name) ? (source as Record<string, unknown>)[name] : undefined;
}

export function readsBody(method: HttpMethod): boolean {
  return method === 'POST' || method === 'PUT' || method === 'PATCH';
}

const WHERE: Record<HttpArgSource, string> = {
  path: 'as a path parameter',
  query: 'in the query string',
  body: 'as a field of the JSON body',
  header: 'as a request header',
};

function valueOf(parameter: BoundParameter, method: HttpMethod, sources: BindingSources): unknown {
  const { name, source } = parameter;
  switch (source) {
    case 'path':
      return fieldOf(sources.params, name);
    case 'query':
      return fieldOf(sources.query, name);
    case 'body':
      return fieldOf(sources.body, name);
    case 'header':
      return fieldOf(sources.headers, name.toLowerCase());
    default:
      return fieldOf(sources.params, name) ?? fieldOf(readsBody(method) ? sources.body : sources.query, name);
  }
}

/**
 * `2026-03-01` (UTC midnight) or `2026-03-01T12:00:00Z` / `…+02:00`: the offset is required, so the
 * instant does not depend on the server's time zone.
 */
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(?:Z|[+-](\d{2}):?(\d{2})))?$/i;

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** The Date an ISO 8601 date or date-time names; undefined if it is not one or names no real day or time. */
function parseDate(value: unknown): Date | undefined {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value;
  if (typeof value !== 'string') return undefined;
  const match = ISO_DATE.exec(value);
  if (!match) return undefined;
  // `new Date` rolls an impossible day over (2026-02-30 is March 2, 24:00 the next day): refuse it instead.
  const [year, month, day, hour, minute, second, offsetHours, offsetMinutes] = match.slice(1).map((part) => Number(part ?? 0)) as number[] as [number, number, number, number, number, number, number, number];
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59 || offsetHours > 23 || offsetMinutes > 59) return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

export function bindArguments(
  handler: string,
  method: HttpMethod,
  parameters: readonly BoundParameter[],
  sources: BindingSources,
): unknown[] {
  const defaultWhere = readsBody(method) ? 'as a field of the JSON body' : 'in the query string';
  const missing: { name: string; where: string }[] = [];
  const args = parameters.map((parameter) => {
    const value = valueOf(parameter, method, sources);
    if (value === undefined) {
      if (!parameter.optional) missing.push({ name: parameter.name, where: parameter.source ? WHERE[parameter.source] : defaultWhere });
      return value;
    }
    if (!parameter.date || value === null) return value;
    const date = parseDate(value);
    if (date === undefined) throw new OperonHttpInvalidArgumentError(handler, parameter.name, 'an ISO 8601 date or date-time with an offset (2026-03-01, 2026-03-01T12:00:00Z)', value);
    return date;
  });
  if (missing.length > 0) throw new OperonHttpMissingArgumentError(handler, missing);
  return args;
}
