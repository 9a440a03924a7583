/**
 * The contexts Operon passes as the first argument of every operation, and the typed `invoke`
 * proxies built from a class's static methods. A call with wrong argument types is a compile error.
 */
import type { WorkflowHandle } from './workflow-handle.js';
import type { EnqueueOptions } from './queue.js';

/** A minimal structured logger (pino's shape); every line carries the workflow UUID and operation. */
export interface OperonLogger {
  debug(obj: unknown, msg?: string): void;
  info(obj: unknown, msg?: string): void;
  warn(obj: unknown, msg?: string): void;
  error(obj: unknown, msg?: string): void;
}

/** The span of the current handler, workflow or operation (an OpenTelemetry span when tracing is on). */
export interface OperonSpan {
  setAttribute(key: string, value: string | number | boolean): unknown;
  addEvent(name: string, attributes?: Record<string, string | number | boolean>): unknown;
}

/** The result of a `pg` query, as much of it as apps use. */
export interface QueryResult<R> {
  rows: R[];
  rowCount: number | null;
}

/** The `pg` client of a transaction, scoped to that one Postgres transaction. */
export interface TransactionClient {
  query<R = any>(text: string, values?: unknown[]): Promise<QueryResult<R>>;
}

interface BaseContext {
  readonly logger: OperonLogger;
  readonly span: OperonSpan;
  /** A value from the `application` section of operon-config.yaml (dotted paths allowed). */
  getConfig<T>(key: string, defaultValue?: T): T | undefined;
}

interface OperationContext extends BaseContext {
  readonly workflowUUID: string;
  readonly functionID: number;
}

/**
 * `C` is what `database.client` makes `ctx.client`: `pg`'s client by default, or the app's own
 * library bound to the transaction's connection, named by its type
 * (`TransactionContext<Knex>`, `TransactionContext<Kysely<DB>>`, `TransactionContext<NodePgDatabase>`).
 */
export interface TransactionContext<C = TransactionClient> extends OperationContext {
  readonly client: C;
}

export interface CommunicatorContext extends OperationContext {
  readonly retriesAllowed: boolean;
  readonly maxAttempts: number;
}

export interface Identity {
  readonly authenticatedUser: string;
  readonly authenticatedRoles: readonly string[];
  readonly assumedRole: string;
}

/** The request recorded with a workflow it started: secrets (authorization, cookies, secret query parameters) left out. */
export interface RecordedHttpRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: Readonly<Record<string, string | string[]>>;
  readonly requestID: string;
}

export interface WorkflowContext extends BaseContext, Identity {
  readonly workflowUUID: string;
  /** The HTTP request that started this workflow, as recorded (the same after recovery); null if none did. */
  readonly request: RecordedHttpRequest | null;
  /** Transactions and communicators of `cls`, each call one recorded operation. */
  invoke<T extends object>(cls: T): OperationsOf<T>;
  /**
   * Starts a child workflow whose UUID derives from this workflow's, so a re-run finds it again;
   * with `{ queue }` it is enqueued on that queue (a recorded step: a re-run enqueues nothing new).
   */
  startChildWorkflow<T extends object>(cls: T, options?: EnqueueOptions): ChildStarterOf<T>;
  /** Runs a child workflow to completion and returns its result. */
  invokeChildWorkflow<T extends object>(cls: T): ChildInvokerOf<T>;
  retrieveWorkflow<R = unknown>(workflowUUID: string): WorkflowHandle<R>;
  send<M>(destinationUUID: string, message: M, topic?: string): Promise<void>;
  recv<M = unknown>(topic?: string, timeoutSeconds?: number): Promise<M | null>;
  setEvent<V>(key: string, value: V): Promise<void>;
  getEvent<V = unknown>(workflowUUID: string, key: string, timeoutSeconds?: number): Promise<V | null>;
  sleep(seconds: number): Promise<void>;
}

export interface HttpRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly params: Readonly<Record<string, unknown>>;
  readonly query: Readonly<Record<string, unknown>>;
  readonly body: unknown;
  readonly requestID: string;
}

/**
 * The response being built: Fastify's reply (`FastifyReply`), of which this names what handlers
 * use most. What the handler returns is still the body; a handler that sends the reply itself
 * (`redirect`, `send`) returns nothing.
 */
export interface HttpReply {
  /** The status code to answer with (201, 202, 404, …). */
  code(statusCode: number): this;
  status(statusCode: number): this;
  readonly statusCode: number;
  header(name: string, value: unknown): this;
  headers(values: Record<string, unknown>): this;
  getHeader(name: string): unknown;
  /** The content type of the body (`text/csv`, `application/xml`); else strings are text/plain and values JSON. */
  type(contentType: string): this;
  /** Sends a redirect (302 unless a code is given): the handler's return value is then ignored. */
  redirect(url: string, statusCode?: number): this;
  readonly sent: boolean;
}

export interface HandlerContext extends BaseContext {
  readonly request: HttpRequest;
  /** The response: status code, headers, content type, redirects. */
  readonly reply: HttpReply;
  readonly authenticatedUser: string;
  readonly authenticatedRoles: readonly string[];
  /** The first of the handler's required roles the caller holds; '' when it requires none. */
  readonly assumedRole: string;
  /**
   * Workflows of `cls` return a handle; transactions and communicators run as one-operation
   * workflows (idempotent under `workflowUUID`) and return their result.
   */
  /** Enqueues a workflow of `cls` on `options.queue`: only workflows can be enqueued. */
  invoke<T extends object>(cls: T, options: InvokeOptions & EnqueueOptions): ChildStarterOf<T>;
  invoke<T extends object>(cls: T, workflowUUID?: string | InvokeOptions): HandlerInvokerOf<T>;
  retrieveWorkflow<R = unknown>(workflowUUID: string): WorkflowHandle<R>;
  send<M>(destinationUUID: string, message: M, topic?: string, idempotencyKey?: string): Promise<void>;
  getEvent<V = unknown>(workflowUUID: string, key: string, timeoutSeconds?: number): Promise<V | null>;
}

/** What a handler's `invoke` may be told besides the queue options. */
export interface InvokeOptions {
  /** The UUID of the workflow started (a retry with the same UUID starts nothing new). */
  readonly workflowUUID?: string;
}

/** What an `@Initializer()` method is given. */
export interface InitContext {
  /** Its lines carry `operationName` (the initializer) and `operationType: 'initializer'`. */
  readonly logger: OperonLogger;
  /** A value from the `application` section of operon-config.yaml (dotted paths allowed). */
  getConfig<T>(key: string, defaultValue?: T): T | undefined;
  /** Runs one statement on the app database (its own connection, autocommit); the rows it returned. */
  queryUserDB<R = any>(sql: string, ...params: unknown[]): Promise<R[]>;
}

type AsyncFn = (...args: any[]) => Promise<any>;
type ArgsAfterContext<F> = F extends (ctx: any, ...args: infer A) => any ? A : never;
type Resolved<F> = F extends (...args: any[]) => Promise<infer R> ? R : never;
type ContextOf<F> = F extends (ctx: infer C, ...args: any[]) => any ? C : never;

/** Whether `F` is an operation whose context is `C`. */
type TakesContext<F, C> = F extends AsyncFn ? ([ContextOf<F>] extends [C] ? true : false) : false;

/**
 * What a proxy offers for a member of the class that is not one of its calls: calling it does not
 * compile, and the message names why.
 */
export interface NotCallableHere {
  readonly 'not a function of this kind on this class (workflows: startChildWorkflow/invokeChildWorkflow; transactions and communicators: invoke)': never;
}

/**
 * What a stored argument or result cannot be at compile time: a function or a symbol, as the
 * value itself, an element of an array or tuple, or a member of a Map or Set. Properties of object
 * types are left to the run-time check (OPERON_ERR_VALUE_NOT_SERIALIZABLE names their path): a
 * type cannot tell a callback property from a method of a registered class.
 */
export interface NotStorable {
  readonly 'a function or a symbol cannot be stored (docs/values.md)': never;
}
type IsAny<T> = 0 extends 1 & T ? true : false;
type Unstorable = ((...args: any[]) => any) | symbol;
/** `T`, with every function or symbol where it is stored replaced by NotStorable. */
export type Storable<T> =
  IsAny<T> extends true
    ? T
    : T extends Unstorable
      ? NotStorable
      : T extends Map<infer K, infer V>
        ? Map<Storable<K>, Storable<V>>
        : T extends Set<infer M>
          ? Set<Storable<M>>
          : T extends readonly unknown[]
            ? { [I in keyof T]: Storable<T[I]> }
            : T;
type HasUnstorable<T> = IsAny<T> extends true ? false : [T] extends [Storable<T>] ? false : true;
/** The arguments of a call; none if its result cannot be stored, so the call does not compile. */
type StoredArgs<F> = HasUnstorable<Resolved<F>> extends true ? [result: NotStorable] : Storable<ArgsAfterContext<F>>;

/*
 * The proxies map every key of the class and decide per key what it offers, instead of first
 * filtering the keys: a filter reads the type of every member, so a workflow with no return
 * annotation that returns `ctx.invoke(Self).tx(n)` would need its own return type to know its
 * keys (TS7023). A mapped type's members are typed one at a time, only when used.
 */

/** The transactions and communicators of a class, as plain async calls. */
export type OperationsOf<T> = {
  [K in keyof T]: TakesContext<T[K], TransactionContext<any> | CommunicatorContext> extends true
    ? (...args: StoredArgs<T[K]>) => Promise<Resolved<T[K]>>
    : NotCallableHere;
};

/** The workflows of a class, each starting a workflow and returning its handle. */
export type ChildStarterOf<T> = {
  [K in keyof T]: TakesContext<T[K], WorkflowContext> extends true
    ? (...args: StoredArgs<T[K]>) => Promise<WorkflowHandle<Resolved<T[K]>>>
    : NotCallableHere;
};

/** The workflows of a class, each running to completion. */
export type ChildInvokerOf<T> = {
  [K in keyof T]: TakesContext<T[K], WorkflowContext> extends true ? (...args: StoredArgs<T[K]>) => Promise<Resolved<T[K]>> : NotCallableHere;
};

/** What a handler's or the testing runtime's `invoke(cls)` offers: workflows return a handle, operations their result. */
export type HandlerInvokerOf<T> = {
  [K in keyof T]: TakesContext<T[K], WorkflowContext> extends true
    ? (...args: StoredArgs<T[K]>) => Promise<WorkflowHandle<Resolved<T[K]>>>
    : TakesContext<T[K], TransactionContext<any> | CommunicatorContext> extends true
      ? (...args: StoredArgs<T[K]>) => Promise<Resolved<T[K]>>
      : NotCallableHere;
};
