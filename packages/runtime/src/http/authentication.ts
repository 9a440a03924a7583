/**
 * Who is calling, and may they: run before every handler. The class's `@Authentication` function
 * names the caller (a throw is a 401; returning nothing means an anonymous caller); the handler's
 * required roles (`@RequiredRole`, else the class's `@DefaultRequiredRole`) are then checked. An
 * anonymous caller of a function that requires a role gets 401 (it must authenticate first); an
 * identified caller who holds none of the roles gets 403. The identity, with the role assumed,
 * travels with every workflow the handler starts. A handler with neither is open to anonymous callers.
 */
import {
  OperonNotAuthenticatedError,
  OperonNotAuthorizedError,
  OperonResponseError,
  type Authenticator,
  type HttpRequest,
  type OperonLogger,
} from '@operon/sdk';
import { OperonAuthenticatorResultError } from '../auth/auth-errors.js';
import { bearerChallenge } from '../auth/bearer-token.js';
import { BIND_TO_CONFIG, isConfigurable } from '../auth/jwt-authenticator.js';
import { authorize, requiredRoles } from '../executor/authorization.js';
import type { RegisteredFunction } from '../executor/function-registry.js';
import { readConfigPath } from '../executor/operation-context.js';
import { ANONYMOUS } from '../executor/workflow-executor.js';
import type { OperonRuntime } from '../runtime.js';
import type { WorkflowIdentity } from '../system-db/system-database.js';

/** Authenticates and authorizes one request of a handler; throws the 401 or 403. */
export type RequestAuthentication = (request: HttpRequest, logger: () => OperonLogger) => Promise<WorkflowIdentity>;

/**
 * One bound authenticator per runtime and `@Authentication` function, so every route of a class
 * (and every class sharing the function) shares one JWKS cache. Keyed weakly: no runtime is kept alive.
 */
const boundAuthenticators = new WeakMap<OperonRuntime, Map<Authenticator, Authenticator>>();

function bound(runtime: OperonRuntime, authenticator: Authenticator, className: string): Authenticator {
  if (!isConfigurable(authenticator)) return authenticator;
  let byRuntime = boundAuthenticators.get(runtime);
  if (!byRuntime) boundAuthenticators.set(runtime, (byRuntime = new Map()));
  let result = byRuntime.get(authenticator);
  if (!result) {
    const warn = (message: string) => runtime.logger.warn({ className }, message);
    byRuntime.set(authenticator, (result = authenticator[BIND_TO_CONFIG](runtime.config, className, warn)));
  }
  return result;
}

/** Built once per route, at startup: an unusable authenticator setting stops the server from starting. */
export function requestAuthentication(runtime: OperonRuntime, handler: RegisteredFunction): RequestAuthentication {
  const registration = handler.classRegistration;
  const className = registration.className;
  const authenticator = registration.authenticator && bound(runtime, registration.authenticator, className);
  const bearer = registration.authenticator !== undefined && isConfigurable(registration.authenticator);
  if (!authenticator) return async () => authorizeCaller(handler, ANONYMOUS, false);
  const getConfig = <T>(key: string, defaultValue?: T) => readConfigPath(runtime.config.application, key, defaultValue);
  return async (request, logger) => {
    let result: unknown;
    try {
      result = await authenticator({
        request,
        // Made only if the authenticator logs.
        get logger() {
          return logger();
        },
        getConfig,
      });
    } catch (error) {
      throw refusal(error, className, logger());
    }
    // Nothing returned: the authenticator found no credentials, and the caller is anonymous.
    if (result === undefined || result === null) return authorizeCaller(handler, ANONYMOUS, bearer);
    return authorizeCaller(handler, identityOf(result, className), bearer);
  };
}

/** True for the identity of a caller nobody identified. */
export function isAnonymous(identity: WorkflowIdentity): boolean {
  return identity.authenticatedUser === '' && identity.authenticatedRoles.length === 0;
}

/**
 * The 401 an anonymous caller gets where a role is required: it has not said who it is, so "you
 * may not" (403) would be the wrong answer (RFC 9110 §15.5.2, §15.5.4). A bearer-token class also
 * sends the `WWW-Authenticate: Bearer` challenge RFC 6750 §3 asks for.
 */
export function anonymousRefusal(functionName: string, roles: readonly string[], bearer: boolean): OperonNotAuthenticatedError {
  const message = `${functionName} requires one of the roles [${roles.join(', ')}]: the caller is not authenticated`;
  return bearer ? bearerChallenge(message) : new OperonNotAuthenticatedError(message);
}

/** A 403 for an anonymous caller, from a workflow or operation the handler started, becomes the 401 it should be. */
export function refusalFor(error: unknown, identity: WorkflowIdentity | undefined, bearer: boolean): unknown {
  if (identity === undefined || !isAnonymous(identity) || !(error instanceof OperonNotAuthorizedError)) return error;
  const { functionName, requiredRoles: roles } = error as OperonNotAuthorizedError;
  return anonymousRefusal(functionName, roles, bearer);
}

function authorizeCaller(handler: RegisteredFunction, identity: WorkflowIdentity, bearer: boolean): WorkflowIdentity {
  const roles = requiredRoles(handler);
  if (roles.length > 0 && isAnonymous(identity)) throw anonymousRefusal(handler.name, roles, bearer);
  return authorize(handler, identity);
}

/**
 * What the client hears when the authenticator throws: its own 401 message or response status,
 * or for any other error a bare "authentication failed" (the reason, maybe internal, is logged).
 */
function refusal(error: unknown, className: string, logger: OperonLogger): Error {
  if (error instanceof OperonNotAuthenticatedError || error instanceof OperonResponseError) return error as Error;
  logger.warn({ err: error }, `the @Authentication function of ${className} threw; answering 401`);
  return new OperonNotAuthenticatedError('authentication failed');
}

function identityOf(result: unknown, className: string): WorkflowIdentity {
  if (typeof result !== 'object' || result === null) {
    throw new OperonAuthenticatorResultError(className, `returned ${result === null ? 'null' : typeof result}`);
  }
  const { authenticatedUser, authenticatedRoles = [] } = result as { authenticatedUser?: unknown; authenticatedRoles?: unknown };
  if (typeof authenticatedUser !== 'string') {
    throw new OperonAuthenticatorResultError(className, `returned an authenticatedUser that is ${typeof authenticatedUser}, not a string`);
  }
  if (!Array.isArray(authenticatedRoles) || !authenticatedRoles.every((role) => typeof role === 'string')) {
    throw new OperonAuthenticatorResultError(className, 'returned authenticatedRoles that are not a list of strings');
  }
  // A copy: the authenticator may reuse or change its array after the identity is recorded.
  return { authenticatedUser, authenticatedRoles: [...(authenticatedRoles as string[])], assumedRole: '' };
}
