/**
 * Who is calling: the `x-chaos-user` header, or `anonymous` without one. Enough identity for the
 * harness to play two users, so that a forged `operon-workflowuuid` can be told apart from a retry.
 */
import { OperonNotAuthenticatedError, type AuthenticationRequest, type AuthenticationResult } from '@operon/sdk';

const USER_HEADER = 'x-chaos-user';
const USER_NAME = /^[a-z0-9-]{1,40}$/;

export async function callerFromHeader({ request }: AuthenticationRequest): Promise<AuthenticationResult> {
  const given = request.headers[USER_HEADER];
  if (given === undefined) return { authenticatedUser: 'anonymous', authenticatedRoles: [] };
  if (typeof given !== 'string' || !USER_NAME.test(given)) {
    throw new OperonNotAuthenticatedError(`${USER_HEADER} must be 1 to 40 lowercase letters, digits or dashes`);
  }
  return { authenticatedUser: given, authenticatedRoles: [] };
}
