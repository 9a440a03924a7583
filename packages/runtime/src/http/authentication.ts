/**
 * Who is calling: run before every handler, and its result travels with each workflow the handler
 * starts. Every caller is anonymous until authentication (SPEC §6) plugs in here.
 */
import type { HttpRequest } from '@operon/sdk';
import type { RegisteredFunction } from '../executor/function-registry.js';
import { ANONYMOUS } from '../executor/workflow-executor.js';
import type { OperonRuntime } from '../runtime.js';
import type { WorkflowIdentity } from '../system-db/system-database.js';

export async function authenticate(_runtime: OperonRuntime, _handler: RegisteredFunction, _request: HttpRequest): Promise<WorkflowIdentity> {
  return ANONYMOUS;
}
