/**
 * Operon's error classes. Every class has a stable code (`OPERON_ERR_<AREA>_<WHAT>`) that is
 * documented in docs/errors.md and never reused; an error that reaches HTTP states its status in
 * its own definition (`readonly status`).
 *
 * Apps are bundles that may carry their own copy of `@operon/sdk`, so `instanceof` cannot rely on
 * class identity. Every class that declares its own `CODE` is a brand: its instances (and those of
 * its subclasses) carry `Symbol.for('operon.error.<CODE>')`, a key every copy of the sdk computes
 * alike, and `Symbol.hasInstance` looks for it. A class that declares no code of its own (a user's
 * `class PaymentDeclined extends OperonResponseError {}`) falls back to the prototype chain, so it
 * does not match its parent's instances, which share its inherited code. The model is the Temporal
 * SDK's `SymbolBasedInstanceOfError`.
 */

function brandOf(code: string): symbol {
  return Symbol.for(`operon.error.${code}`);
}

function addBrand(error: object, code: string): void {
  Object.defineProperty(error, brandOf(code), { value: true, enumerable: false, configurable: true });
}

/**
 * Marks an error rebuilt from a record as an instance of `OperonError` and of the class whose
 * `CODE` is `code` (in whichever copy of the sdk that class lives).
 */
export function brandOperonError(error: Error, code: string): void {
  addBrand(error, OperonError.CODE);
  addBrand(error, code);
}

/** The base of every error Operon throws. */
export class OperonError extends Error {
  static readonly CODE: string = 'OPERON_ERR_GENERIC';
  readonly code: string;

  constructor(message: string, code?: string) {
    super(message);
    this.code = code ?? (new.target as typeof OperonError).CODE;
    this.name = new.target.name;
    // One brand per class of the chain that declares its own code, up to and including this one.
    for (let cls: unknown = new.target; cls !== Error && typeof cls === 'function'; cls = Object.getPrototypeOf(cls)) {
      if (Object.hasOwn(cls, 'CODE')) addBrand(this, (cls as typeof OperonError).CODE);
    }
  }

  static override [Symbol.hasInstance](instance: unknown): boolean {
    // `this` is the class on the right of `instanceof`. One without a code of its own is a plain
    // subclass: class identity, through the default check (which does not call back into here).
    if (!Object.hasOwn(this, 'CODE')) return Function.prototype[Symbol.hasInstance].call(this, instance);
    if (typeof instance !== 'object' || instance === null) return false;
    return (instance as Record<symbol, unknown>)[brandOf(this.CODE)] === true;
  }
}

/** Thrown by a handler (or anything it calls) to answer with this HTTP status. */
export class OperonResponseError extends OperonError {
  static override readonly CODE = 'OPERON_ERR_HTTP_RESPONSE';
  readonly status: number;
  constructor(message: string, status = 500) {
    super(message);
    this.status = status;
  }
}

/** A re-run of a workflow met a record of a different function at the same operation id. */
export class OperonNonDeterminismError extends OperonError {
  static override readonly CODE = 'OPERON_ERR_WORKFLOW_NONDETERMINISTIC';
  constructor(
    readonly workflowUUID: string,
    readonly functionID: number,
    readonly expectedFunction: string,
    readonly recordedFunction: string,
  ) {
    super(
      `workflow ${workflowUUID}: operation ${functionID} called ${expectedFunction}, but the record ` +
        `at that id is of ${recordedFunction}; workflow code must be deterministic outside operations`,
    );
  }
}

/** A decorator was used where it cannot work (for example on an instance method). */
export class OperonDecoratorError extends OperonError {
  static override readonly CODE = 'OPERON_ERR_DECORATOR_USAGE';
}

/** A function was called through `invoke` that no decorator registered with Operon. */
export class OperonNotRegisteredError extends OperonError {
  static override readonly CODE = 'OPERON_ERR_FUNCTION_NOT_REGISTERED';
  constructor(readonly functionName: string, hint = '') {
    super(`${functionName} is not a registered Operon function${hint ? `: ${hint}` : ''}`);
  }
}

/** `retrieveWorkflow` or `debug` named a workflow UUID that has no record: answered over HTTP with 404. */
export class OperonWorkflowNotFoundError extends OperonError {
  static override readonly CODE = 'OPERON_ERR_WORKFLOW_NOT_FOUND';
  readonly status = 404;
  constructor(readonly workflowUUID: string) {
    super(`no workflow with UUID ${workflowUUID} exists`);
  }
}

/**
 * A workflow was started under a UUID that already names a workflow of another function, or one
 * another caller started: answered over HTTP with 409. Reusing a UUID is a retry only for the same
 * function and caller; anyone else is refused rather than handed that workflow's result.
 */
export class OperonWorkflowConflictError extends OperonError {
  static override readonly CODE = 'OPERON_ERR_WORKFLOW_CONFLICT';
  readonly status = 409;
  constructor(
    readonly workflowUUID: string,
    message = `workflow UUID ${workflowUUID} already names a workflow of another function or another caller; ` +
      'send a new UUID for a new request (reusing a UUID only retries the same call)',
  ) {
    super(message);
  }
}

/**
 * A value given to or returned from a workflow or operation, or sent as a message or event, cannot
 * be stored (a function, a symbol, a WeakMap, an instance of an unregistered class). `path` names
 * where in the value it sits, as `inputs[1].callback`. Nothing was stored.
 */
export class OperonValueNotSerializableError extends OperonError {
  static override readonly CODE = 'OPERON_ERR_VALUE_NOT_SERIALIZABLE';
  constructor(message: string, readonly path?: string) {
    super(message);
  }
}

/** The name this error had before values were stored faithfully; the same class. */
export const OperonSerializationError = OperonValueNotSerializableError;
export type OperonSerializationError = OperonValueNotSerializableError;

/** A stored value is in a format this runtime does not know (written by a newer one), or is damaged. */
export class OperonValueFormatError extends OperonError {
  static override readonly CODE = 'OPERON_ERR_VALUE_FORMAT_UNKNOWN';
}

/** `registerSerializableClass` was given something that is not a class, or a name another class holds. */
export class OperonSerializableClassError extends OperonError {
  static override readonly CODE = 'OPERON_ERR_VALUE_CLASS_REGISTRATION';
}

/** Authentication failed: answered over HTTP with 401. */
export class OperonNotAuthenticatedError extends OperonError {
  static override readonly CODE = 'OPERON_ERR_AUTH_NOT_AUTHENTICATED';
  readonly status = 401;
}

/** The caller holds none of the roles a function requires: answered over HTTP with 403. */
export class OperonNotAuthorizedError extends OperonError {
  static override readonly CODE = 'OPERON_ERR_AUTH_NOT_AUTHORIZED';
  readonly status = 403;
  constructor(readonly functionName: string, readonly requiredRoles: readonly string[]) {
    super(`${functionName} requires one of the roles [${requiredRoles.join(', ')}]; the caller holds none`);
  }
}

/** The runtime is shutting down and cannot start new work: answered over HTTP with 503. */
export class OperonShutdownError extends OperonError {
  static override readonly CODE = 'OPERON_ERR_RUNTIME_SHUTDOWN';
  readonly status = 503;
}

/**
 * A workflow UUID, message destination, topic, event key or idempotency key is not a valid
 * identifier: 1-200 printable characters without whitespace. A UUID a client chooses may not
 * contain `~`, which is kept for the UUIDs Operon derives (children, a request's later workflows),
 * so no client can start or pre-empt one of those. Answered over HTTP with 400.
 */
export class OperonInvalidIdentifierError extends OperonError {
  static override readonly CODE = 'OPERON_ERR_INVALID_IDENTIFIER';
  readonly status = 400;
  constructor(
    readonly what: string,
    readonly problem: string,
  ) {
    super(`${what} ${problem}`);
  }
}

/**
 * The workflow was recovered `runtimeConfig.maxRecoveryAttempts` times without ending (each
 * recovery was cut off, as by a crash the workflow itself causes), so it is no longer recovered:
 * its status is RETRIES_EXCEEDED until an operator resumes it.
 */
export class OperonWorkflowRetriesExceededError extends OperonError {
  static override readonly CODE = 'OPERON_ERR_WORKFLOW_RETRIES_EXCEEDED';
  constructor(readonly workflowUUID: string) {
    super(`workflow ${workflowUUID} was recovered too many times without ending; it is RETRIES_EXCEEDED and is not recovered again`);
  }
}

/**
 * A `@Scheduled` workflow cannot be scheduled: its crontab does not parse, its timezone is not an
 * IANA zone, an option has the wrong type, or the method is not a workflow. Raised when the class
 * is decorated or, at the latest, when the runtime starts; the message names the method.
 */
export class OperonScheduleError extends OperonError {
  static override readonly CODE = 'OPERON_ERR_SCHEDULE_INVALID';
  constructor(readonly scheduleName: string, readonly problem: string) {
    super(`@Scheduled on ${scheduleName}: ${problem}`);
  }
}

/**
 * A queue was made with bad options (a limit that is not a whole number from 1 to 2^31 - 1, a rate
 * window outside 1 ms to 100 years, an unknown option, a name already registered with other
 * limits), or a workflow was enqueued with bad options (a priority that is not an integer, a delay
 * below 0 or past 100 years, a partition key where the queue has none or none where it has one). Nothing was stored. Answered over HTTP with 400.
 */
export class OperonQueueOptionsError extends OperonError {
  static override readonly CODE = 'OPERON_ERR_QUEUE_OPTIONS';
  readonly status = 400;
}

/**
 * A workflow was enqueued with a `deduplicationID` that an ENQUEUED or PENDING workflow of the same
 * queue holds: answered over HTTP with 409. The id is free again once that workflow ends.
 */
export class OperonQueueDuplicatedError extends OperonError {
  static override readonly CODE = 'OPERON_ERR_QUEUE_DUPLICATED';
  readonly status = 409;
  constructor(
    readonly queueName: string,
    readonly deduplicationID: string,
  ) {
    super(`queue ${queueName} already holds a workflow with deduplicationID ${deduplicationID} (ENQUEUED or PENDING); it is free again once that workflow ends`);
  }
}

/**
 * The workflow was cancelled (by the management API or `operon workflows cancel`, or because an
 * ancestor was): its result will never come unless an operator resumes it. Answered over HTTP with 409.
 */
export class OperonWorkflowCancelledError extends OperonError {
  static override readonly CODE = 'OPERON_ERR_WORKFLOW_CANCELLED';
  readonly status = 409;
  constructor(readonly workflowUUID: string) {
    super(`workflow ${workflowUUID} was cancelled; resume it to let it continue`);
  }
}

/**
 * A version (a stored bundle) that a workflow started on cannot be loaded: it is not stored,
 * importing it threw (a package it imports is gone, say), or it exports no Operon class. Its
 * workflows stay PENDING until an executor can load it.
 */
export class OperonVersionLoadError extends OperonError {
  static override readonly CODE = 'OPERON_ERR_VERSION_LOAD_FAILED';
  constructor(
    readonly version: string,
    readonly reason: string,
  ) {
    super(`cannot load version ${version}: ${reason}`);
  }
}

/**
 * `database.client` names a library the app has not installed (knex, kysely, drizzle-orm): the
 * runtime stops at start, naming the package to install.
 */
export class OperonDatabaseClientMissingError extends OperonError {
  static override readonly CODE = 'OPERON_ERR_DATABASE_CLIENT_MISSING';
  constructor(
    readonly client: string,
    readonly packageName: string,
    reason: string,
  ) {
    super(`database.client is ${client}, but the package ${packageName} cannot be loaded (${reason}): install it in the app (npm install ${packageName})`);
  }
}

/**
 * A transaction's `ctx.client` was asked to open a transaction of its own (knex's, kysely's or
 * drizzle's `transaction()`). It is already inside Operon's transaction, whose COMMIT also records
 * the operation's output: a COMMIT of the library's would split the two.
 */
export class OperonNestedTransactionError extends OperonError {
  static override readonly CODE = 'OPERON_ERR_TRANSACTION_NESTED';
  constructor(readonly client: string) {
    super(`ctx.client (${client}) is already in the transaction Operon opened for this @Transaction: query it directly instead of calling transaction()`);
  }
}

/** The app's code used a transaction's `ctx.client` after that transaction had ended (a floating promise, a timer, a kept reference). */
export class OperonTransactionEndedError extends OperonError {
  static override readonly CODE = 'OPERON_ERR_TRANSACTION_ENDED';
  /** The transaction whose client was used, and its workflow, when known. */
  readonly transaction?: string;
  readonly workflowUUID?: string;
  constructor(what = 'query', origin?: { readonly transaction: string; readonly workflowUUID: string }) {
    const whose = origin ? `ctx.client of ${origin.transaction} (workflow ${origin.workflowUUID})` : 'ctx.client';
    super(`${whose} cannot ${what} after its @Transaction returned or failed: the transaction is over and its connection is back in the pool (await every query before the method returns)`);
    if (origin) {
      this.transaction = origin.transaction;
      this.workflowUUID = origin.workflowUUID;
    }
  }
}
