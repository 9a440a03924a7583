/**
 * `@FastifyPlugin`s of a class: its routes are served from a Fastify context of their own, in
 * which its plugins are registered first, so a plugin's hooks (CORS headers, rate limits, security
 * headers) act on that class's routes and on no other class's, nor on Operon's `/operon/*`.
 *
 * A plugin may add a catch-all route of its own (`@fastify/cors` answers preflights at
 * `OPTIONS *`). In a class's context that route is constrained to the paths the class serves: a
 * preflight for another class's path or for `/operon/*` is not answered by it, and two classes may
 * each use such a plugin without their catch-alls clashing.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { OperonError, pluginFunction, type ClassRegistration } from '@operon/sdk';
import { OperonHttpPluginError, OperonHttpRouteError } from './http-errors.js';

const CLASS_CONSTRAINT = 'operonClass';
/** Route config key holding the route's own first `onRequest` hook (its span), run before any plugin's. */
const FIRST_ON_REQUEST = Symbol('operon.firstOnRequest');

type OnRequest = (request: FastifyRequest, reply: FastifyReply) => Promise<void>;

/** Requests of a class with plugins whose handler has not started yet: an error now is a plugin's. */
const beforeHandler = new WeakSet<FastifyRequest>();

/**
 * The status and message of an error a class's plugin raised before the handler ran (a 429 from a
 * rate limiter, a 403 ban): a 4xx `statusCode` on it is the plugin speaking to the client, as in
 * plain Fastify. Anything else stays a 500 that shows nothing.
 */
export function pluginRefusal(request: FastifyRequest, error: unknown): { status: number; message: string } | undefined {
  if (!beforeHandler.has(request) || typeof error !== 'object' || error === null) return undefined;
  const { statusCode, message } = error as { statusCode?: unknown; message?: unknown };
  if (typeof statusCode !== 'number' || !Number.isInteger(statusCode) || statusCode < 400 || statusCode > 499) return undefined;
  return { status: statusCode, message: typeof message === 'string' ? message : `HTTP ${statusCode}` };
}

export interface ClassRoutes {
  readonly registration: ClassRegistration;
  /** Each handler's route, with the handler's `Class.method` name. */
  readonly routes: readonly { readonly name: string; readonly route: RouteOptions }[];
}

/** `/orders/:id` as a pattern over a request path (`:param` one segment, `*` the rest). */
function pathPattern(path: string): RegExp {
  const source = path
    .split('/')
    .map((segment) => (segment.startsWith(':') ? '[^/]+' : segment === '*' ? '.*' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${source}/?$`);
}

function pluginName(plugin: unknown): string {
  const fn = pluginFunction(plugin) as (Function & Record<symbol, unknown>) | undefined;
  const display = fn?.[Symbol.for('fastify.display-name')];
  return typeof display === 'string' && display !== '' ? display : fn?.name || 'an anonymous plugin';
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n').find((line) => line.trim() !== '')?.trim() ?? 'unknown error';
}

/** How specific each segment of a route path is, as Fastify's router prefers them: static, then a parameter, then `*`. */
function specificity(path: string): number[] {
  return path.split('/').map((segment) => (segment.startsWith(':') ? 1 : segment === '*' ? 2 : 0));
}

function moreSpecific(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! < b[i]!;
  return false;
}

/**
 * Which class's context a request belongs to, for catch-all routes of plugins: the class whose
 * route the router would pick for the request's path and method (a preflight's method is the one
 * it asks for, else any route of the path), among the routes of every class, those of classes
 * without plugins too; undefined for `/operon/*`, for a path a class without plugins serves and
 * for one no class serves. Added to the server only when some class has plugins.
 */
function classConstraint(classes: readonly ClassRoutes[]) {
  const routes = classes.flatMap(({ registration, routes }) => {
    const owner = (registration.plugins?.length ?? 0) > 0 ? registration.className : undefined;
    return routes.flatMap(({ route }) =>
      (Array.isArray(route.method) ? route.method : [route.method]).map((method) => ({
        owner,
        method: String(method).toUpperCase(),
        pattern: pathPattern(route.url),
        rank: specificity(route.url),
      })),
    );
  });
  const pick = (candidates: typeof routes) => candidates.reduce<(typeof routes)[number] | undefined>((best, r) => (!best || moreSpecific(r.rank, best.rank) ? r : best), undefined);
  return {
    name: CLASS_CONSTRAINT,
    storage() {
      const handlers = new Map<string, unknown>();
      return { get: (value: string) => handlers.get(value) ?? null, set: (value: string, handler: unknown) => void handlers.set(value, handler) };
    },
    deriveConstraint(request: { url?: string; method?: string; headers?: Record<string, unknown> }): string | undefined {
      const url = request.url ?? '';
      const query = url.indexOf('?');
      const path = query === -1 ? url : url.slice(0, query);
      // Operon's own routes are no class's, whatever a class's pattern matches.
      if (path === '/operon' || path.startsWith('/operon/')) return undefined;
      const asked = request.headers?.['access-control-request-method'];
      const method = (request.method === 'OPTIONS' && typeof asked === 'string' ? asked : (request.method ?? '')).toUpperCase();
      const onPath = routes.filter((r) => r.pattern.test(path));
      return (pick(onPath.filter((r) => r.method === method)) ?? pick(onPath))?.owner;
    },
    mustMatchWhenDerived: false,
  };
}

/** Registers each class's routes: on `app` itself when it has no plugins, else in a context of its own. */
export function registerClassRoutes(app: FastifyInstance, classes: readonly ClassRoutes[]): void {
  const withPlugins = classes.filter((c) => (c.registration.plugins?.length ?? 0) > 0);
  if (withPlugins.length > 0) app.addConstraintStrategy(classConstraint(classes) as never);
  for (const { registration, routes } of classes) {
    if ((registration.plugins?.length ?? 0) === 0) {
      for (const { name, route } of routes) addRoute(app, name, route);
      continue;
    }
    app.register(async (context) => {
      const className = registration.className;
      // The span starts before any plugin can answer (a 429, a preflight), so those answers carry traceparent too.
      context.addHook('onRequest', async (request, reply) => {
        beforeHandler.add(request);
        const first = (request.routeOptions.config as unknown as Record<symbol, OnRequest | undefined>)[FIRST_ON_REQUEST];
        if (first) await first(request, reply);
      });
      context.addHook('onRoute', (route) => {
        // A plugin's catch-all serves only the paths of this class.
        if (route.url.endsWith('*') && !(route.config as Record<symbol, unknown> | undefined)?.[FIRST_ON_REQUEST]) {
          route.constraints = { ...route.constraints, [CLASS_CONSTRAINT]: className };
        }
      });
      for (const { plugin, options } of registration.plugins!) {
        try {
          await context.register(inClassContext(plugin) as never, options as never);
        } catch (error) {
          throw new OperonHttpPluginError(`@FastifyPlugin(${pluginName(plugin)}) of ${className} failed to register: ${firstLine(error)}`);
        }
      }
      for (const { name, route } of routes) addRoute(context, name, withFirstOnRequest(route));
    });
  }
}

type PluginFunction = (this: unknown, instance: FastifyInstance, options: unknown, done?: (error?: Error) => void) => unknown;

/**
 * The plugin as one that acts on the context it is registered in, as `fastify-plugin` makes it:
 * the class's context is already the boundary, and a plain `async (instance) => addHook(...)` of
 * the user's would otherwise only see routes it declared itself.
 */
function inClassContext(plugin: unknown): PluginFunction {
  const fn = pluginFunction(plugin) as PluginFunction & Record<symbol, unknown>;
  if (fn[Symbol.for('skip-override')]) return fn;
  const wrapped = function (this: unknown, instance: FastifyInstance, options: unknown, done: (error?: Error) => void): void {
    // Three parameters: the plugin calls `done` itself; fewer: it settles a promise (or returns at once).
    if (fn.length >= 3) {
      fn.call(this, instance, options, done);
      return;
    }
    Promise.resolve()
      .then(() => fn.call(this, instance, options))
      .then(() => done(), done);
  } as PluginFunction & Record<symbol, unknown>;
  wrapped[Symbol.for('skip-override')] = true;
  wrapped[Symbol.for('fastify.display-name')] = pluginName(fn);
  return wrapped;
}

/**
 * Moves the route's own `onRequest` hook (one function, its span) into its config, for the context's
 * first hook to run, and notes when the handler starts.
 */
function withFirstOnRequest(route: RouteOptions): RouteOptions {
  const { onRequest, handler, ...rest } = route;
  const first: OnRequest = typeof onRequest === 'function' ? (onRequest as unknown as OnRequest) : async () => undefined;
  return {
    ...rest,
    config: { ...(route.config as object), [FIRST_ON_REQUEST]: first } as RouteOptions['config'],
    handler(request, reply) {
      beforeHandler.delete(request);
      return handler.call(this, request, reply);
    },
  };
}

function addRoute(app: FastifyInstance, name: string, route: RouteOptions): void {
  try {
    app.route(route);
  } catch (error) {
    // Operon's own errors (a route, an authenticator setting) already name what is wrong.
    if (error instanceof OperonError) throw error;
    throw new OperonHttpRouteError(`cannot serve ${[route.method].flat().join(',')} ${route.url} for ${name}: ${(error as Error).message}`);
  }
}
