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

/** An ISO 8601 date (`2026-03-01`) or date-time (`2026-03-01T12:00:00Z`) as a Date; undefined if it is not one. */
function parseDate(value: unknown): Date | undefined {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value;
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/i.test(value)) return undefined;
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
    if (date === undefined) throw new OperonHttpInvalidArgumentError(handler, parameter.name, 'an ISO 8601 date or date-time (2026-03-01, 2026-03-01T12:00:00Z)', value);
    return date;
  });
  if (missing.length > 0) throw new OperonHttpMissingArgumentError(handler, missing);
  return args;
}
