/**
 * Binds a handler's arguments by parameter name: path parameters first, then the query string
 * (GET, DELETE) or the JSON body (POST, PUT, PATCH). `undefined` is the only absence: `false`,
 * `0`, `''` and `null` are values. An absent parameter with a default takes its default; any
 * other absence is a 400 naming every missing argument.
 */
import type { HttpMethod } from '@operon/sdk';
import { OperonHttpMissingArgumentError } from './http-errors.js';
import type { HandlerParameter } from './parameter-names.js';

export interface BindingSources {
  readonly params: unknown;
  readonly query: unknown;
  readonly body: unknown;
}

function fieldOf(source: unknown, name: string): unknown {
  if (typeof source !== 'object' || source === null || Array.isArray(source)) return undefined;
  // Own fields only: a parameter named `constructor` must not bind Object.prototype's.
  return Object.hasOwn(source, name) ? (source as Record<string, unknown>)[name] : undefined;
}

export function readsBody(method: HttpMethod): boolean {
  return method === 'POST' || method === 'PUT' || method === 'PATCH';
}

export function bindArguments(
  handler: string,
  method: HttpMethod,
  parameters: readonly HandlerParameter[],
  sources: BindingSources,
): unknown[] {
  const second = readsBody(method) ? sources.body : sources.query;
  const missing: string[] = [];
  const args = parameters.map(({ name, optional }) => {
    let value = fieldOf(sources.params, name);
    if (value === undefined) value = fieldOf(second, name);
    if (value === undefined && !optional) missing.push(name);
    return value;
  });
  if (missing.length > 0) {
    const where = readsBody(method) ? 'as a field of the JSON body' : 'in the query string';
    throw new OperonHttpMissingArgumentError(handler, missing, where);
  }
  return args;
}
