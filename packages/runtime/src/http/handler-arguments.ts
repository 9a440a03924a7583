/**
 * What each argument of a handler binds to: its HTTP name, its source, whether it may be absent,
 * and whether it arrives as a `Date`. Names come, first to last, from the code (the route option
 * `args`, or `@ArgName`/`@HttpArgSource`/`@ArgDate` under experimentalDecorators), from what `operon
 * build` read in the TypeScript source before bundling (a bundler may rename a parameter that
 * shadows a module-level name), and from the compiled source text.
 */
import { builtParameters, type HttpArgSource, type HttpArgument, type HttpRoute } from '@operon/sdk';
import type { RegisteredFunction } from '../executor/function-registry.js';
import { OperonHttpRouteError } from './http-errors.js';
import { readParameters, unreadableSource } from './parameter-names.js';
import { readsBody } from './route-binding.js';

export interface BoundParameter {
  /** The HTTP name: a path parameter, query or body field, or header. */
  readonly name: string;
  /** Absent: path parameters first, then the query string (GET, DELETE) or the body. */
  readonly source?: HttpArgSource;
  /** Has a default value: an absent argument then takes the default. */
  readonly optional: boolean;
  /** Arrives as a `Date` parsed from an ISO 8601 string. */
  readonly date: boolean;
}

/** Names and optionality from the build, else from the compiled source. */
function sourceParameters(fn: RegisteredFunction): { name?: string; optional: boolean; date: boolean; problem?: string }[] | undefined {
  const compiled = () => readParameters(fn.method.fn, fn.name);
  const built = builtParameters(fn.cls, fn.method.methodName);
  // A parameter the build found no name for (destructured, rest): the compiled source says why.
  if (built) return built.map((p, i) => (p.name !== undefined ? { ...p } : { ...p, problem: (compiled()?.[i] as { problem?: string } | undefined)?.problem }));
  return compiled()?.map((p) => ({ ...p, date: false }));
}

function declaredArguments(fn: RegisteredFunction, route: HttpRoute): HttpArgument[] {
  const declared = [...(route.args ?? [])];
  for (const [position, arg] of fn.method.parameterArgs) declared[position] = { ...declared[position], ...arg };
  return declared;
}

type Schema = { properties?: Record<string, { format?: unknown } | undefined> } | undefined;

function isDateFormat(property: { format?: unknown } | undefined): boolean {
  return property?.format === 'date' || property?.format === 'date-time';
}

function schemaSaysDate(schema: object | undefined, name: string): boolean {
  const properties = (schema as Schema)?.properties;
  return properties !== undefined && Object.hasOwn(properties, name) && isDateFormat(properties[name]);
}

/** Header names are case-insensitive: Fastify lowercases the header schema's properties too. */
function headerSchemaSaysDate(schema: object | undefined, name: string): boolean {
  const properties = (schema as Schema)?.properties ?? {};
  return Object.entries(properties).some(([key, property]) => key.toLowerCase() === name.toLowerCase() && isDateFormat(property));
}

/** A property of the route schema that reads this argument has `format: 'date'` or `'date-time'`. */
function dateBySchema(route: HttpRoute, name: string, source: HttpArgSource | undefined): boolean {
  const schema = route.schema;
  if (!schema) return false;
  const second = readsBody(route.method) ? schema.body : schema.querystring;
  switch (source) {
    case 'path':
      return schemaSaysDate(schema.params, name);
    case 'query':
      return schemaSaysDate(schema.querystring, name);
    case 'body':
      return schemaSaysDate(schema.body, name);
    case 'header':
      return headerSchemaSaysDate(schema.headers, name);
    default:
      return schemaSaysDate(schema.params, name) || schemaSaysDate(second, name);
  }
}

/** Throws at startup, naming the handler, when an argument has no name to bind by. */
export function boundParameters(fn: RegisteredFunction, route: HttpRoute): BoundParameter[] {
  const declared = declaredArguments(fn, route);
  const read = sourceParameters(fn);
  if (read === undefined && declared.length === 0) throw unreadableSource(fn.name);
  const count = Math.max(read?.length ?? 0, declared.length);
  const parameters: BoundParameter[] = [];
  for (let i = 0; i < count; i++) {
    const arg = declared[i];
    const fromSource = read?.[i];
    const name = arg?.name ?? fromSource?.name;
    if (name === undefined) {
      throw new OperonHttpRouteError(fromSource?.problem ?? `parameter ${i + 2} of handler ${fn.name} has no name: give it one in the route option args`);
    }
    parameters.push({
      name,
      ...(arg?.source && { source: arg.source }),
      optional: fromSource?.optional ?? false,
      date: arg?.type === 'date' || (fromSource?.date ?? false) || dateBySchema(route, name, arg?.source),
    });
  }
  return parameters;
}
