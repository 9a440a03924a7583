/**
 * Operon's error classes. Every class has a stable code (`OPERON_ERR_<AREA>_<WHAT>`) that is
 * documented in docs/errors.md and never reused.
 *
 * Apps are bundles that may carry their own copy of `@operon/sdk`, so `instanceof` cannot rely on
 * class identity: each instance carries its code under `Symbol.for('operon.error')`, and
 * `Symbol.hasInstance` compares that brand instead.
 */
const ERROR_BRAND = Symbol.for('operon.error');

/** Marks an error (for example one rebuilt from a record) as an Operon error with this code. */
export function brandOperonError(error: Error, code: string): void {
  Object.defineProperty(error, ERROR_BRAND, { value: code, enumerable: false, configurable: true });
}

/** The base of every error Operon throws. */
export class OperonError extends Error {
  static readonly CODE: string = 'OPERON_ERR_GENERIC';
  readonly code: string;

  constructor(message: string, code?: string) {
    super(message);
    this.code = code ?? (new.target as typeof OperonError).CODE;
    this.name = new.target.name;
    brandOperonError(this, this.code);
  }

  static override [Symbol.hasInstance](instance: unknown): boolean {
    if (typeof instance !== 'object' || instance === null) return false;
    const brand = (instance as Record<symbol, unknown>)[ERROR_BRAND];
    if (typeof brand !== 'string') return false;
    return this === OperonError || brand === this.CODE;
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

/** `retrieveWorkflow` or `debug` named a workflow UUID that has no record. */
export class OperonWorkflowNotFoundError extends OperonError {
  static override readonly CODE = 'OPERON_ERR_WORKFLOW_NOT_FOUND';
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
  constructor(readonly workflowUUID: string) {
    super(
      `workflow UUID ${workflowUUID} already names a workflow of another function or another caller; ` +
        'send a new UUID for a new request (reusing a UUID only retries the same call)',
    );
  }
}

/** A value passed to or returned from an operation cannot be recorded as JSON. */
export class OperonSerializationError extends OperonError {
  static override readonly CODE = 'OPERON_ERR_VALUE_NOT_SERIALIZABLE';
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

/** The runtime is shutting down and cannot start new work. */
export class OperonShutdownError extends OperonError {
  static override readonly CODE = 'OPERON_ERR_RUNTIME_SHUTDOWN';
}
