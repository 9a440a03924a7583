/**
 * The OpenAPI 3.1 document of an app's routes, made from what the decorators registered: each
 * handler's path, its arguments with the source each binds from (path, query, header, JSON body),
 * the route's JSON schemas, dates as `format: date-time` (or the schema's own format), and the
 * security of classes with `@Authentication`. Operon's own `/operon/*` routes are not in it.
 * It needs no database: `operon openapi` makes it from the bundle alone.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HttpRoute } from '@operon/sdk';
import { isConfigurable } from '../auth/jwt-authenticator.js';
import { FunctionRegistry, type RegisteredFunction } from '../executor/function-registry.js';
import { boundParameters, type BoundParameter } from './handler-arguments.js';
import { readsBody } from './route-binding.js';

export const OPENAPI_PATH = '/operon/openapi.json';

export interface OpenApiInfo {
  readonly title: string;
  readonly version: string;
}

type Schema = Record<string, unknown>;
type ObjectSchema = { properties?: Record<string, Schema>; required?: string[] } | undefined;

const ERROR_RESPONSE = { $ref: '#/components/schemas/OperonError' };

/** The app's name and version from the package.json in `dir`, else neutral ones. */
export function appInfo(dir: string): OpenApiInfo {
  try {
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
    return {
      title: typeof manifest.name === 'string' && manifest.name !== '' ? manifest.name : 'Operon app',
      version: typeof manifest.version === 'string' && manifest.version !== '' ? manifest.version : '0.0.0',
    };
  } catch {
    return { title: 'Operon app', version: '0.0.0' };
  }
}

/** `/orders/:id` as OpenAPI writes it, `/orders/{id}`, with the names of its path parameters. */
function openApiPath(path: string): { path: string; params: string[] } {
  const params: string[] = [];
  const converted = path
    .split('/')
    .map((segment) => {
      if (segment.startsWith(':')) {
        const name = segment.slice(1).replace(/\(.*$/, '');
        params.push(name);
        return `{${name}}`;
      }
      if (segment === '*') {
        params.push('*');
        return '{*}';
      }
      return segment;
    })
    .join('/');
  return { path: converted, params };
}

/** Where an argument is read from, with the default order resolved as the binding resolves it. */
function sourceOf(parameter: BoundParameter, route: HttpRoute, pathParams: readonly string[]): 'path' | 'query' | 'header' | 'body' {
  if (parameter.source) return parameter.source;
  if (pathParams.includes(parameter.name)) return 'path';
  return readsBody(route.method) ? 'body' : 'query';
}

function propertyOf(schema: object | undefined, name: string): Schema | undefined {
  const properties = (schema as ObjectSchema)?.properties;
  return properties !== undefined && Object.hasOwn(properties, name) ? properties[name] : undefined;
}

/** A header's property of the headers schema: header names are case-insensitive. */
function headerPropertyOf(schema: object | undefined, name: string): Schema | undefined {
  const properties = (schema as ObjectSchema)?.properties ?? {};
  return Object.entries(properties).find(([key]) => key.toLowerCase() === name.toLowerCase())?.[1];
}

/** The route schema's property for the argument; a date without one is an ISO 8601 date-time string. */
function argumentSchema(parameter: BoundParameter, schema: object | undefined, header = false): Schema {
  const declared = header ? headerPropertyOf(schema, parameter.name) : propertyOf(schema, parameter.name);
  if (declared) return declared;
  return parameter.date ? { type: 'string', format: 'date-time' } : {};
}

function securitySchemeName(fn: RegisteredFunction): string {
  return isConfigurable(fn.classRegistration.authenticator!) ? 'bearerJwt' : `${fn.classRegistration.className}Authentication`;
}

function securityScheme(fn: RegisteredFunction): Schema {
  if (isConfigurable(fn.classRegistration.authenticator!)) return { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' };
  return {
    type: 'http',
    scheme: 'bearer',
    description: `checked by the @Authentication function of ${fn.classRegistration.className}, which reads the request as it chooses`,
  };
}

/**
 * `pathNames` renames the route's path parameters to those of the document's path: two routes
 * whose paths differ only in parameter names are one OpenAPI path, named as the first one names them.
 */
function operation(fn: RegisteredFunction, route: HttpRoute, schemes: Record<string, Schema>, pathNames: ReadonlyMap<string, string>): Schema {
  const { params: pathParams } = openApiPath(route.path);
  const pathName = (name: string) => pathNames.get(name) ?? name;
  const schema = route.schema ?? {};
  const bound = boundParameters(fn, route);
  const parameters: Schema[] = [];
  const bodyProperties: Record<string, Schema> = {};
  const bodyRequired: string[] = [];
  const named = new Set<string>();
  for (const parameter of bound) {
    const source = sourceOf(parameter, route, pathParams);
    named.add(`${source} ${parameter.name}`);
    if (source === 'body') {
      bodyProperties[parameter.name] = argumentSchema(parameter, schema.body);
      if (!parameter.optional) bodyRequired.push(parameter.name);
      continue;
    }
    const from = source === 'path' ? schema.params : source === 'query' ? schema.querystring : schema.headers;
    parameters.push({
      name: source === 'path' ? pathName(parameter.name) : parameter.name,
      in: source,
      required: source === 'path' || !parameter.optional,
      schema: argumentSchema(parameter, from, source === 'header'),
    });
  }
  // Path parameters no argument reads, and query fields only the schema names, are still part of the route.
  for (const name of pathParams) {
    if (!named.has(`path ${name}`)) parameters.push({ name: pathName(name), in: 'path', required: true, schema: propertyOf(schema.params, name) ?? { type: 'string' } });
  }
  const query = schema.querystring as ObjectSchema;
  for (const [name, property] of Object.entries(query?.properties ?? {})) {
    if (!named.has(`query ${name}`)) parameters.push({ name, in: 'query', required: query?.required?.includes(name) ?? false, schema: property });
  }

  const result: Schema = { operationId: fn.name, tags: [fn.classRegistration.className] };
  if (parameters.length > 0) result['parameters'] = parameters;
  if (schema.body) {
    result['requestBody'] = { required: bodyRequired.length > 0, content: { 'application/json': { schema: schema.body } } };
  } else if (Object.keys(bodyProperties).length > 0) {
    const body: Schema = { type: 'object', properties: bodyProperties };
    if (bodyRequired.length > 0) body['required'] = bodyRequired;
    result['requestBody'] = { required: bodyRequired.length > 0, content: { 'application/json': { schema: body } } };
  }

  const responses: Record<string, Schema> = {
    '200': { description: "The handler's result: JSON, or text/plain for a string" },
    '204': { description: 'The handler returned nothing' },
  };
  // A declared response schema is what that status answers (JSON).
  for (const [status, body] of Object.entries(schema.response ?? {})) {
    responses[status] = { description: status === '200' ? "The handler's result" : `Status ${status}`, content: { 'application/json': { schema: body } } };
  }
  if (bound.length > 0 || route.schema) responses['400'] = { description: 'A missing or invalid argument', content: { 'application/json': { schema: ERROR_RESPONSE } } };
  const roles = fn.method.requiredRoles ?? fn.classRegistration.defaultRequiredRoles ?? [];
  if (fn.classRegistration.authenticator) {
    const name = securitySchemeName(fn);
    schemes[name] = securityScheme(fn);
    // Without a required role an anonymous caller is served too.
    result['security'] = roles.length > 0 ? [{ [name]: [] }] : [{ [name]: [] }, {}];
    responses['401'] = { description: 'Not authenticated', content: { 'application/json': { schema: ERROR_RESPONSE } } };
  }
  if (roles.length > 0) {
    result['description'] = `Requires one of the roles: ${roles.join(', ')}.`;
    responses['403'] = { description: 'The caller holds none of the required roles', content: { 'application/json': { schema: ERROR_RESPONSE } } };
  }
  responses['500'] = { description: 'An internal error (the body names only the request id)', content: { 'application/json': { schema: ERROR_RESPONSE } } };
  result['responses'] = responses;
  return result;
}

/** The OpenAPI 3.1 document of every handler route of `classes` (or of a runtime's registry). */
export function openApiDocument(classes: readonly unknown[] | FunctionRegistry, info: OpenApiInfo): Record<string, unknown> {
  const registry = classes instanceof FunctionRegistry ? classes : new FunctionRegistry(classes);
  const paths: Record<string, Record<string, Schema>> = {};
  const schemes: Record<string, Schema> = {};
  const routes = registry
    .all()
    .filter((fn) => fn.method.http !== undefined)
    .sort((a, b) => a.method.http!.path.localeCompare(b.method.http!.path) || a.name.localeCompare(b.name));
  // OpenAPI forbids two templated paths that differ only in parameter names: by shape, the first names them.
  const byShape = new Map<string, { path: string; params: string[] }>();
  for (const fn of routes) {
    const route = fn.method.http!;
    const own = openApiPath(route.path);
    const shape = own.path.replace(/\{[^}]*\}/g, '{}');
    const first = byShape.get(shape) ?? own;
    byShape.set(shape, first);
    const pathNames = new Map(own.params.map((name, i) => [name, first.params[i]!]));
    (paths[first.path] ??= {})[route.method.toLowerCase()] = operation(fn, route, schemes, pathNames);
  }
  const components: Schema = {
    schemas: { OperonError: { type: 'object', properties: { error: { type: 'string' }, requestID: { type: 'string' } }, required: ['error'] } },
  };
  if (Object.keys(schemes).length > 0) components['securitySchemes'] = schemes;
  return { openapi: '3.1.0', info: { title: info.title, version: info.version }, paths, components };
}
