/** Errors of authentication setup: each is the server's mistake, never the caller's. */
import { OperonError } from '@operon/sdk';

/** `jwtAuthenticator()` has no way to verify signatures: neither its options nor the config give a secret or a key set. */
export class OperonJwtNotConfiguredError extends OperonError {
  static override readonly CODE = 'OPERON_ERR_AUTH_JWT_NOT_CONFIGURED';
  constructor(readonly className: string, problem: string) {
    super(
      `jwtAuthenticator() of ${className} ${problem}: set authentication.jwt.secret or authentication.jwt.jwksUrl ` +
        `in operon-config.yaml, or pass { secret } or { jwksUrl } to jwtAuthenticator()`,
    );
  }
}

/** An `@Authentication` function returned something that is not `{ authenticatedUser, authenticatedRoles }`. */
export class OperonAuthenticatorResultError extends OperonError {
  static override readonly CODE = 'OPERON_ERR_AUTH_BAD_IDENTITY';
  constructor(readonly className: string, problem: string) {
    super(`the @Authentication function of ${className} ${problem}; return { authenticatedUser: string, authenticatedRoles: string[] } or throw`);
  }
}
