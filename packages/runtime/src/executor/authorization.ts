/**
 * Role checks: a function's required roles are its own `@RequiredRole`, else its class's
 * `@DefaultRequiredRole`; a caller holding none of them is refused before anything runs. The first
 * required role the caller holds becomes the assumed role.
 */
import { OperonNotAuthorizedError } from '@operon/sdk';
import type { WorkflowIdentity } from '../system-db/system-database.js';
import type { RegisteredFunction } from './function-registry.js';

export function requiredRoles(fn: RegisteredFunction): readonly string[] {
  return fn.method.requiredRoles ?? fn.classRegistration.defaultRequiredRoles ?? [];
}

/** The identity to run `fn` with, its assumed role set; throws if the caller may not run it. */
export function authorize(fn: RegisteredFunction, identity: WorkflowIdentity): WorkflowIdentity {
  const required = requiredRoles(fn);
  if (required.length === 0) return identity;
  const assumedRole = required.find((role) => identity.authenticatedRoles.includes(role));
  if (assumedRole === undefined) throw new OperonNotAuthorizedError(fn.name, required);
  return { ...identity, assumedRole };
}
