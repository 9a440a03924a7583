/**
 * Operon's decorators. Each works under TC39 standard decorators (TypeScript 5+, the default)
 * and under `experimentalDecorators: true`: the two modes call a decorator with different
 * arguments, and `isStandardContext` tells them apart.
 */
import { OperonDecoratorError, OperonScheduleError } from './errors.js';
import {
  ARG_SOURCES,
  ISOLATION_LEVELS,
  classRegistration,
  methodRegistration,
  type HttpArgSource,
  type Authenticator,
  type CommunicatorOptions,
  type HttpArgument,
  type HttpMethod,
  type HttpPlugin,
  type HttpRouteSchema,
  type MethodRegistration,
  type ScheduleOptions,
  type TransactionOptions,
} from './registry.js';

type AnyAsyncMethod = (...args: any[]) => Promise<any>;

/** A decorator for a static method, accepted by both decorator modes (an instance method is a compile error). */
export interface OperonMethodDecorator {
  <T extends AnyAsyncMethod>(value: T, context: ClassMethodDecoratorContext & { static: true }): void;
  (target: object, propertyKey: string | symbol, descriptor: PropertyDescriptor): void;
}

/** A decorator for a class, accepted by both decorator modes. */
export interface OperonClassDecorator {
  <T extends abstract new (...args: any) => any>(value: T, context: ClassDecoratorContext<T>): void;
  (target: Function): void;
}

function isStandardContext(arg: unknown): arg is DecoratorContext {
  return typeof arg === 'object' && arg !== null && 'kind' in arg && 'name' in arg;
}

function describe(context: DecoratorContext): string {
  const isStatic = 'static' in context && context.static;
  return `${isStatic ? 'a static' : context.kind === 'class' ? 'a' : 'an instance'} ${context.kind}`;
}

function methodDecorator(decoratorName: string, apply: (method: MethodRegistration) => void): OperonMethodDecorator {
  return function (target: unknown, context: unknown, descriptor?: PropertyDescriptor): void {
    if (isStandardContext(context)) {
      if (context.kind !== 'method' || !context.static) {
        throw new OperonDecoratorError(
          `@${decoratorName} must decorate a static method; ${String(context.name)} is ${describe(context)}`,
        );
      }
      const fn = target as AnyAsyncMethod;
      context.addInitializer(function (this: unknown) {
        apply(methodRegistration(this as object, String(context.name), fn));
      });
      return;
    }
    const key = String(context);
    if (typeof target !== 'function' || !descriptor || typeof descriptor.value !== 'function') {
      throw new OperonDecoratorError(`@${decoratorName} must decorate a static method; ${key} is not one`);
    }
    apply(methodRegistration(target, key, descriptor.value as AnyAsyncMethod));
  } as OperonMethodDecorator;
}

function classDecorator(apply: (cls: Function) => void): OperonClassDecorator {
  return function (target: Function): void {
    apply(target);
  } as OperonClassDecorator;
}

function setKind(method: MethodRegistration, kind: NonNullable<MethodRegistration['kind']>): void {
  if (method.kind && method.kind !== kind) {
    throw new OperonDecoratorError(
      `${method.className}.${method.methodName} is marked both @${capitalize(method.kind)} and @${capitalize(kind)}; choose one`,
    );
  }
  method.kind = kind;
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/**
 * Marks a durable workflow. Its operations run exactly once across crashes and restarts.
 * @example
 * ```ts
 * @Workflow()
 * static async greet(ctx: WorkflowContext, name: string) { ... }
 * ```
 */
export function Workflow(): OperonMethodDecorator {
  return methodDecorator('Workflow', (m) => setKind(m, 'workflow'));
}

/**
 * Runs a workflow once per tick of a crontab, over all executors together: the workflow is
 * `(ctx, scheduledTime: Date, startTime: Date)`, given the tick and when its run was started. The
 * schedule is named after the method, `Class.method`. The options are checked when the runtime
 * starts (where the cron library lives, and once the class's name is known), naming the method.
 * @example
 * ```ts
 * @Scheduled({ crontab: '0 9 * * 1-5', timezone: 'Europe/Paris', catchUp: 'latest' })
 * @Workflow()
 * static async morningReport(ctx: WorkflowContext, scheduledTime: Date, startTime: Date) { ... }
 * ```
 */
export function Scheduled(options: ScheduleOptions): OperonMethodDecorator {
  return methodDecorator('Scheduled', (m) => {
    const name = `${m.className}.${m.methodName}`;
    if (m.schedule) throw new OperonScheduleError(name, 'the method is scheduled twice; give it one @Scheduled');
    m.schedule = options;
  });
}

/** Marks a transaction: one ACID Postgres transaction on the app database, run exactly once. */
export function Transaction(options: TransactionOptions = {}): OperonMethodDecorator {
  // The level is written into the transaction's BEGIN statement: anything but the four SQL levels
  // (a typo, or text from outside reaching the option) is refused here, where it is written.
  const level: unknown = options.isolationLevel;
  if (level !== undefined && !(ISOLATION_LEVELS as readonly unknown[]).includes(level)) {
    const got = typeof level === 'string' ? JSON.stringify(level.length > 60 ? `${level.slice(0, 57)}...` : level) : typeof level;
    throw new OperonDecoratorError(`@Transaction isolationLevel must be one of ${ISOLATION_LEVELS.join(', ')}, got ${got}`);
  }
  return methodDecorator('Transaction', (m) => {
    setKind(m, 'transaction');
    m.transactionOptions = { ...options };
  });
}

/** Marks a communicator: a call to the outside world, retried with backoff, its result recorded. */
export function Communicator(options: CommunicatorOptions = {}): OperonMethodDecorator {
  return methodDecorator('Communicator', (m) => {
    setKind(m, 'communicator');
    m.communicatorOptions = { ...options };
  });
}

export interface HttpRouteOptions {
  /** Fastify JSON schemas, validated before the handler runs (400 on failure). */
  schema?: HttpRouteSchema;
  /**
   * Each argument's HTTP name and source, in parameter order after the context; binding then
   * never depends on the compiled parameter names. `{ name: 'x-tenant', source: 'header' }`.
   */
  args?: readonly HttpArgument[];
}

function checkArgument(decoratorName: string, arg: unknown, index: number): HttpArgument {
  const where = `@${decoratorName} args[${index}]`;
  if (typeof arg !== 'object' || arg === null) throw new OperonDecoratorError(`${where} must be an object like { name: 'id', source: 'path' }`);
  const { name, source, type } = arg as Record<string, unknown>;
  if (name !== undefined && (typeof name !== 'string' || name === '')) throw new OperonDecoratorError(`${where}.name must be a non-empty string`);
  checkSource(where, source);
  if (type !== undefined && type !== 'date') throw new OperonDecoratorError(`${where}.type must be 'date' or absent, got ${JSON.stringify(type)}`);
  return { ...(name !== undefined && { name }), ...(source !== undefined && { source }), ...(type !== undefined && { type }) } as HttpArgument;
}

function checkSource(where: string, source: unknown): void {
  if (source !== undefined && !(ARG_SOURCES as readonly unknown[]).includes(source)) {
    throw new OperonDecoratorError(`${where} source must be one of ${ARG_SOURCES.join(', ')}, got ${JSON.stringify(source)}`);
  }
}

function route(method: HttpMethod) {
  const decoratorName = `${capitalize(method.toLowerCase())}Api`;
  return (path: string, options: HttpRouteOptions = {}): OperonMethodDecorator => {
    if (options.args !== undefined && !Array.isArray(options.args)) {
      throw new OperonDecoratorError(`@${decoratorName} args must be an array, one entry per parameter after the context`);
    }
    const args = options.args?.map((arg, i) => checkArgument(decoratorName, arg, i));
    return methodDecorator(decoratorName, (m) => {
      if (m.http) {
        throw new OperonDecoratorError(`${m.className}.${m.methodName} already serves ${m.http.method} ${m.http.path}`);
      }
      m.http = { method, path, schema: options.schema, ...(args && { args }) };
    });
  };
}

/** Serves a handler at `GET path`; arguments bind from path parameters, then the query string. */
export const GetApi = route('GET');
/** Serves a handler at `POST path`; arguments bind from path parameters, then the JSON body. */
export const PostApi = route('POST');
/** Serves a handler at `PUT path`; arguments bind from path parameters, then the JSON body. */
export const PutApi = route('PUT');
/** Serves a handler at `PATCH path`; arguments bind from path parameters, then the JSON body. */
export const PatchApi = route('PATCH');
/** Serves a handler at `DELETE path`; arguments bind from path parameters, then the query string. */
export const DeleteApi = route('DELETE');

/**
 * Runs the method `(ctx: InitContext)` once per start: after migrations and recovery, before the
 * HTTP server listens (and before the testing runtime returns). A throw stops the start.
 * @example
 * ```ts
 * @Initializer()
 * static async seed(ctx: InitContext) {
 *   await ctx.queryUserDB('INSERT INTO plans(name) VALUES ($1) ON CONFLICT DO NOTHING', 'free');
 * }
 * ```
 */
export function Initializer(): OperonMethodDecorator {
  return methodDecorator('Initializer', (m) => {
    m.initializer = true;
  });
}

/** Requires the caller to hold one of `roles`; wins over the class's `@DefaultRequiredRole`. */
export function RequiredRole(roles: readonly string[]): OperonMethodDecorator {
  return methodDecorator('RequiredRole', (m) => {
    m.requiredRoles = [...roles];
  });
}

/** Requires one of `roles` for every method of the class that has no `@RequiredRole`. */
export function DefaultRequiredRole(roles: readonly string[]): OperonClassDecorator {
  return classDecorator((cls) => {
    classRegistration(cls).defaultRequiredRoles = [...roles];
  });
}

/**
 * Runs `authenticator` before every handler of the class. What it returns becomes
 * `ctx.authenticatedUser`/`authenticatedRoles` and travels with every workflow the handler starts;
 * a throw answers 401 and the handler does not run. `jwtAuthenticator()` from `@operon/runtime` is
 * a ready-made one for bearer JWTs.
 * @example
 * ```ts
 * @Authentication(async ({ request }) => {
 *   const user = await lookUpApiKey(request.headers['x-api-key']);
 *   if (!user) throw new OperonNotAuthenticatedError('unknown API key');
 *   return { authenticatedUser: user.name, authenticatedRoles: user.roles };
 * })
 * export class Reports { ... }
 * ```
 */
export function Authentication(authenticator: Authenticator): OperonClassDecorator {
  return classDecorator((cls) => {
    classRegistration(cls).authenticator = authenticator;
  });
}

/** The plugin function itself, also from an ES module namespace (`import * as plugin`). */
export function pluginFunction(plugin: unknown): Function | undefined {
  if (typeof plugin === 'function') return plugin;
  const inner = typeof plugin === 'object' && plugin !== null ? (plugin as { default?: unknown }).default : undefined;
  return typeof inner === 'function' ? inner : undefined;
}

/**
 * Registers a Fastify plugin for this class's routes only, in a Fastify context of the class's own:
 * other classes' routes and Operon's `/operon/*` routes never see it. Several may be stacked; they
 * are registered in the order they are written, top first. `options` is typed by the plugin.
 * @example
 * ```ts
 * @FastifyPlugin(cors, { origin: 'https://shop.example.com' })
 * @FastifyPlugin(rateLimit, { max: 100, timeWindow: '1 minute' })
 * export class Orders { ... }
 * ```
 */
export function FastifyPlugin<O>(plugin: HttpPlugin<O>, options?: O): OperonClassDecorator {
  if (pluginFunction(plugin) === undefined) {
    throw new OperonDecoratorError(
      `@FastifyPlugin takes a Fastify plugin function (or a module whose default export is one), got ${plugin === null ? 'null' : typeof plugin}`,
    );
  }
  return classDecorator((cls) => {
    const registration = classRegistration(cls);
    // Class decorators run bottom-up; the list keeps the written order.
    (registration.plugins ??= []).unshift({ plugin, options: options ?? {} });
  });
}

type LogMaskKind = 'skip' | 'mask';

function isParameterDecoratorCall(args: readonly unknown[]): boolean {
  return args.length === 3 && typeof args[2] === 'number';
}

/** Records a parameter decorator's position (after the context) on its static method. */
function maskParameter(decoratorName: string, kind: LogMaskKind, [target, key, index]: readonly unknown[]): void {
  const name = typeof key === 'string' ? key : String(key);
  if (typeof target !== 'function' || key === undefined) {
    throw new OperonDecoratorError(`@${decoratorName} must decorate a parameter of a static method; ${name} is not one`);
  }
  const fn = (target as unknown as Record<string, unknown>)[name];
  if (typeof fn !== 'function') {
    throw new OperonDecoratorError(`@${decoratorName} must decorate a parameter of a static method; ${name} is not one`);
  }
  const position = (index as number) - 1;
  if (position < 0) {
    throw new OperonDecoratorError(`@${decoratorName} on the first parameter of ${name}: that is the context, which is never logged`);
  }
  const method = methodRegistration(target, name, fn as AnyAsyncMethod);
  (kind === 'skip' ? method.skipLoggingParams : method.maskedParams).add(position);
}

/** The method-level form: names the parameters, or none for every argument. */
function maskNames(decoratorName: string, kind: LogMaskKind, names: readonly unknown[]): OperonMethodDecorator {
  for (const name of names) {
    if (typeof name !== 'string' || name === '') {
      throw new OperonDecoratorError(
        `@${decoratorName}(...) takes parameter names as strings; write @${decoratorName}('password') above the method, ` +
          `or @${decoratorName} before a parameter under experimentalDecorators`,
      );
    }
  }
  return methodDecorator(decoratorName, (m) => {
    if (names.length === 0) {
      if (kind === 'skip') m.skipAllParams = true;
      else m.maskAllParams = true;
      return;
    }
    for (const name of names as string[]) (kind === 'skip' ? m.skipLoggingNames : m.maskedNames).add(name);
  });
}

/**
 * Keeps arguments out of Operon's logs and span attributes: they are left out of the inputs it
 * logs when a workflow, operation or handler starts. Two forms, because TC39 standard decorators
 * have no parameter decorators:
 * @example
 * ```ts
 * // Either decorator mode: name the parameters (none: every argument).
 * @Workflow()
 * @SkipLogging('password')
 * static async login(ctx: WorkflowContext, user: string, password: string) { ... }
 *
 * // experimentalDecorators only: decorate the parameter.
 * @Workflow()
 * static async login(ctx: WorkflowContext, user: string, @SkipLogging password: string) { ... }
 * ```
 */
export function SkipLogging(...parameterNames: string[]): OperonMethodDecorator;
export function SkipLogging(target: object, propertyKey: string | symbol | undefined, parameterIndex: number): void;
export function SkipLogging(...args: unknown[]): OperonMethodDecorator | void {
  if (isParameterDecoratorCall(args)) return maskParameter('SkipLogging', 'skip', args);
  return maskNames('SkipLogging', 'skip', args);
}

/**
 * Masks arguments in Operon's logs and span attributes: they show as `"****"`. The same two forms
 * as {@link SkipLogging}: `@LogMask('card')` above the method in either decorator mode, or
 * `@LogMask` before a parameter under `experimentalDecorators`.
 */
export function LogMask(...parameterNames: string[]): OperonMethodDecorator;
export function LogMask(target: object, propertyKey: string | symbol | undefined, parameterIndex: number): void;
export function LogMask(...args: unknown[]): OperonMethodDecorator | void {
  if (isParameterDecoratorCall(args)) return maskParameter('LogMask', 'mask', args);
  return maskNames('LogMask', 'mask', args);
}

/** Records part of a parameter's HTTP binding from a parameter decorator (experimentalDecorators). */
function bindParameter(decoratorName: string, [target, key, index]: readonly unknown[], part: HttpArgument): void {
  const name = typeof key === 'string' ? key : String(key);
  const fn = typeof target === 'function' ? (target as unknown as Record<string, unknown>)[name] : undefined;
  if (typeof index !== 'number' || typeof fn !== 'function') {
    throw new OperonDecoratorError(
      `@${decoratorName} must decorate a parameter of a static method (experimentalDecorators); ` +
        `with standard decorators give the route option args: [{ name, source }] instead`,
    );
  }
  if (index === 0) throw new OperonDecoratorError(`@${decoratorName} on the first parameter of ${name}: that is the context, not an HTTP argument`);
  const method = methodRegistration(target as object, name, fn as AnyAsyncMethod);
  const position = index - 1;
  method.parameterArgs.set(position, { ...method.parameterArgs.get(position), ...part });
}

type ParameterDecorator = (target: object, propertyKey: string | symbol | undefined, parameterIndex: number) => void;

/**
 * The HTTP name of a handler argument, whatever the compiled parameter is called (the original
 * Operon's `@ArgName`; experimentalDecorators only, else the route option `args`).
 * @example `static async find(ctx: HandlerContext, @ArgName('user') u: string)`
 */
export function ArgName(name: string): ParameterDecorator {
  if (typeof name !== 'string' || name === '') throw new OperonDecoratorError('@ArgName takes the argument\'s HTTP name, a non-empty string');
  return (...args) => bindParameter('ArgName', args, { name });
}

/** Where a handler argument is read from: 'path', 'query', 'body' or 'header' (experimentalDecorators only). */
export function ArgSource(source: HttpArgSource): ParameterDecorator {
  checkSource('@ArgSource', source);
  return (...args) => bindParameter('ArgSource', args, { source });
}

/** A handler argument that arrives as a `Date` from an ISO 8601 string; an invalid one is a 400 (experimentalDecorators only). */
export function ArgDate(): ParameterDecorator {
  return (...args) => bindParameter('ArgDate', args, { type: 'date' });
}
