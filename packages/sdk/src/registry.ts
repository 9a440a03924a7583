/**
 * What the decorators record, stored on each decorated class under a shared symbol so the runtime
 * can read it from any copy of this package (an app bundle carries its own copy).
 */
import type { HttpRequest, OperonLogger } from './context.js';

export type OperationKind = 'workflow' | 'transaction' | 'communicator';
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** The SQL isolation levels a transaction may run at. */
export const ISOLATION_LEVELS = ['READ UNCOMMITTED', 'READ COMMITTED', 'REPEATABLE READ', 'SERIALIZABLE'] as const;
export type IsolationLevel = (typeof ISOLATION_LEVELS)[number];

export interface TransactionOptions {
  /** @default 'SERIALIZABLE' */
  isolationLevel?: IsolationLevel;
  /** Runs in a READ ONLY transaction; its output is recorded after commit. @default false */
  readOnly?: boolean;
}

export interface CommunicatorOptions {
  /** @default true */
  retriesAllowed?: boolean;
  /** Seconds before the first retry. @default 1 */
  intervalSeconds?: number;
  /** Attempts in all, the first included. @default 3 */
  maxAttempts?: number;
  /** Each wait is the previous one times this. @default 2 */
  backoffRate?: number;
}

export type WorkflowOptions = Record<string, never>;

/** What a schedule does about ticks that fell due while no executor ran it. */
export const CATCH_UP_POLICIES = ['none', 'latest', 'all'] as const;
export type CatchUpPolicy = (typeof CATCH_UP_POLICIES)[number];

export interface ScheduleOptions {
  /** Five fields (minute first) or six (second first), as cron reads them. */
  crontab: string;
  /** An IANA zone the crontab's fields are read in. @default 'UTC' */
  timezone?: string;
  /**
   * Ticks missed while no executor ran (downtime, a suspended process): `none` runs none of them,
   * `latest` the latest one, `all` each of them (the latest `maxCatchUp`). @default 'none'
   */
  catchUp?: CatchUpPolicy;
  /** The most missed ticks `catchUp: 'all'` runs, from 1 to 1,000. @default 100 */
  maxCatchUp?: number;
}

export interface HttpRouteSchema {
  body?: object;
  querystring?: object;
  params?: object;
  /** Request headers (names are matched case-insensitively): Fastify coerces and validates them too. */
  headers?: object;
  /** The response body's schema by status code (`{ 200: {...} }`): Fastify's, and the OpenAPI document's responses. */
  response?: Record<string | number, object>;
}

/** Where an HTTP argument is read from. */
export const ARG_SOURCES = ['path', 'query', 'body', 'header'] as const;
export type HttpArgSource = (typeof ARG_SOURCES)[number];

/**
 * How one handler argument binds, declared by the code rather than read from the compiled
 * parameter name (which a bundler may rename). Every field is optional: an absent `name` is the
 * parameter's own name, an absent `source` is the default order (path, then the query string or
 * the body), `type: 'date'` makes an ISO string arrive as a `Date`.
 */
export interface HttpArgument {
  name?: string;
  source?: HttpArgSource;
  type?: 'date';
}

export interface HttpRoute {
  method: HttpMethod;
  path: string;
  schema?: HttpRouteSchema;
  /** In parameter order after the context. */
  args?: readonly HttpArgument[];
}

/**
 * Parameter names `operon build` read from the TypeScript source before bundling, stored on the
 * class under this symbol as `{ [method]: BuiltParameter[] }`: the bundle may rename parameters.
 */
export const BUILT_PARAMETERS = Symbol.for('operon.parameters');

export interface BuiltParameter {
  /** Absent for a destructured or rest parameter, which has no name to bind by. */
  readonly name?: string;
  /** Has a default value or is marked `?`. */
  readonly optional: boolean;
  /** Declared `: Date`. */
  readonly date: boolean;
}

/** The parameters `operon build` recorded for `cls[methodName]`, if it did. */
export function builtParameters(cls: object, methodName: string): readonly BuiltParameter[] | undefined {
  const table = Object.prototype.hasOwnProperty.call(cls, BUILT_PARAMETERS)
    ? (cls as { [BUILT_PARAMETERS]?: Record<string, readonly BuiltParameter[]> })[BUILT_PARAMETERS]
    : undefined;
  return table && Object.prototype.hasOwnProperty.call(table, methodName) ? table[methodName] : undefined;
}

/** Everything known about one decorated static method. */
export interface MethodRegistration {
  readonly className: string;
  methodName: string;
  fn: (...args: unknown[]) => Promise<unknown>;
  kind?: OperationKind;
  transactionOptions?: TransactionOptions;
  communicatorOptions?: CommunicatorOptions;
  http?: HttpRoute;
  requiredRoles?: readonly string[];
  /** Set by `@Scheduled`: the workflow runs once per tick of this crontab. */
  schedule?: ScheduleOptions;
  /** `@Initializer()`: run once per start, after recovery and before the server listens. */
  initializer?: boolean;
  /** `@ArgName`/`@ArgSource`/`@ArgDate` parameter decorators (experimentalDecorators), by position after the context. */
  parameterArgs: Map<number, HttpArgument>;
  /**
   * Arguments kept out of logs and span attributes: `skip…` ones are left out, `masked…` ones
   * replaced by `"****"`. Positions count from the first argument after the context (parameter
   * decorators under `experimentalDecorators`); names are what `@SkipLogging('password')` and
   * `@LogMask('card')` give in either decorator mode, resolved to positions by the runtime.
   */
  skipLoggingParams: Set<number>;
  maskedParams: Set<number>;
  skipLoggingNames: Set<string>;
  maskedNames: Set<string>;
  /** `@SkipLogging()` / `@LogMask()` with no names: every argument. */
  skipAllParams?: boolean;
  maskAllParams?: boolean;
}

/** What an `@Authentication` function is given: the request, a logger and the app's config. */
export interface AuthenticationRequest {
  readonly request: HttpRequest;
  /** Its lines carry the request id. */
  readonly logger: OperonLogger;
  /** A value from the `application` section of operon-config.yaml (dotted paths allowed). */
  getConfig<T>(key: string, defaultValue?: T): T | undefined;
}

/** Who the caller is; `authenticatedRoles` are matched against `@RequiredRole`/`@DefaultRequiredRole`. */
export interface AuthenticationResult {
  readonly authenticatedUser: string;
  readonly authenticatedRoles: readonly string[];
}

/**
 * Runs before every handler of a class marked `@Authentication(fn)`; a throw answers 401 (the
 * message of an `OperonNotAuthenticatedError` is shown, any other error reads "authentication failed").
 */
export type Authenticator = (req: AuthenticationRequest) => Promise<AuthenticationResult> | AuthenticationResult;

/**
 * A Fastify plugin, as `@fastify/cors` or a user's own `(instance, options, done)` or
 * `async (instance, options)` function exports it; an ES module namespace with it as `default` also
 * does. Typed structurally so the SDK needs no Fastify: `options` is the plugin's own options type.
 */
export type HttpPlugin<O> =
  | ((instance: any, options: O, done: (error?: Error) => void) => void)
  | ((instance: any, options: O) => Promise<void>)
  | { readonly default: HttpPlugin<O> };

/** One `@FastifyPlugin(plugin, options)` of a class. */
export interface HttpPluginRegistration {
  readonly plugin: HttpPlugin<any>;
  readonly options: unknown;
}

/** Everything known about one decorated class. */
export interface ClassRegistration {
  /** Read when asked, not when decorated: compilers may fix a class's name only after its decorators ran. */
  readonly className: string;
  methods: Map<string, MethodRegistration>;
  authenticator?: Authenticator;
  defaultRequiredRoles?: readonly string[];
  /** `@FastifyPlugin`s in the order they are written (top first), registered for this class's routes only. */
  plugins?: HttpPluginRegistration[];
}

const REGISTRY = Symbol.for('operon.registry');

type Registered = { [REGISTRY]?: ClassRegistration };

/** The class's own registration, created on first use (never inherited from a parent class). */
export function classRegistration(cls: object): ClassRegistration {
  const holder = cls as Registered;
  if (!Object.prototype.hasOwnProperty.call(holder, REGISTRY)) {
    const registration: ClassRegistration = {
      get className() {
        return (cls as { name?: string }).name || 'anonymous';
      },
      methods: new Map(),
    };
    Object.defineProperty(holder, REGISTRY, { value: registration, enumerable: false });
  }
  return holder[REGISTRY]!;
}

/** The registration of one method, created on first use. */
export function methodRegistration(
  cls: object,
  methodName: string,
  fn: (...args: unknown[]) => Promise<unknown>,
): MethodRegistration {
  const registration = classRegistration(cls);
  let method = registration.methods.get(methodName);
  if (!method) {
    method = {
      get className() {
        return registration.className;
      },
      methodName,
      fn,
      skipLoggingParams: new Set(),
      maskedParams: new Set(),
      skipLoggingNames: new Set(),
      maskedNames: new Set(),
      parameterArgs: new Map(),
    };
    registration.methods.set(methodName, method);
  }
  return method;
}

/** The registration of a class if any decorator marked it, else undefined. */
export function getClassRegistration(cls: unknown): ClassRegistration | undefined {
  if (typeof cls !== 'function') return undefined;
  return Object.prototype.hasOwnProperty.call(cls, REGISTRY) ? (cls as Registered)[REGISTRY] : undefined;
}
