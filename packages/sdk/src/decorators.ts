/**
 * Operon's decorators. Each works under TC39 standard decorators (TypeScript 5+, the default)
 * and under `experimentalDecorators: true`: the two modes call a decorator with different
 * arguments, and `isStandardContext` tells them apart.
 */
import { OperonDecoratorError } from './errors.js';
import {
  classRegistration,
  methodRegistration,
  type Authenticator,
  type CommunicatorOptions,
  type HttpMethod,
  type HttpRouteSchema,
  type MethodRegistration,
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

/** Marks a transaction: one ACID Postgres transaction on the app database, run exactly once. */
export function Transaction(options: TransactionOptions = {}): OperonMethodDecorator {
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

function route(method: HttpMethod) {
  return (path: string, options: { schema?: HttpRouteSchema } = {}): OperonMethodDecorator =>
    methodDecorator(`${capitalize(method.toLowerCase())}Api`, (m) => {
      if (m.http) {
        throw new OperonDecoratorError(`${m.className}.${m.methodName} already serves ${m.http.method} ${m.http.path}`);
      }
      m.http = { method, path, schema: options.schema };
    });
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

/** Runs `authenticator` before any handler of the class; a throw answers 401. */
export function Authentication(authenticator: Authenticator): OperonClassDecorator {
  return classDecorator((cls) => {
    classRegistration(cls).authenticator = authenticator;
  });
}
