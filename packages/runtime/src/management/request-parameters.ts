/**
 * What a management route reads from its request, checked before it does anything: a query key or
 * body field it does not read is a 400 naming it (dropped, a misspelt `version` would resume on the
 * current code, or a restart's `fromStep` be ignored), and so is a value given twice where one is
 * read (a repeated `cursor` would otherwise give the first page again, for ever).
 */
import { OperonManagementRequestError } from './workflow-filter.js';

/** Every route takes the dashboard link's `?token=` (see management-access.ts). */
const TOKEN_KEY = 'token';

function listed(names: readonly string[]): string {
  return names.length === 0 ? 'none' : names.join(', ');
}

/** Refuses a query key of `route` other than `keys` and the token. */
export function checkQueryKeys(query: unknown, route: string, keys: readonly string[]): void {
  for (const key of Object.keys((query ?? {}) as object)) {
    if (key !== TOKEN_KEY && !keys.includes(key)) {
      throw new OperonManagementRequestError(`unknown query parameter "${key}": ${route} takes ${listed(keys)}`);
    }
  }
}

/** The page cursor of a query, if any: one string (a repeated `?cursor=` is an array). */
export function cursorOf(query: unknown): string | undefined {
  const cursor = (query as Record<string, unknown> | undefined)?.cursor;
  if (cursor === undefined || cursor === '') return undefined;
  if (typeof cursor !== 'string') throw new OperonManagementRequestError(`cursor must be given once, got ${JSON.stringify(cursor)}`);
  return cursor;
}

/** The fields of a change's JSON body (none, or an object of `fields` only: `{}` is what the dashboard sends). */
export function bodyFields(body: unknown, route: string, fields: readonly string[]): Record<string, unknown> {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) {
    throw new OperonManagementRequestError(`the body of ${route} must be a JSON object (fields: ${listed(fields)}), got ${JSON.stringify(body).slice(0, 40)}`);
  }
  for (const key of Object.keys(body)) {
    if (!fields.includes(key)) throw new OperonManagementRequestError(`unknown field "${key}" in the body of ${route}: it takes ${listed(fields)}`);
  }
  return body as Record<string, unknown>;
}
