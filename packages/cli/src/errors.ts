/**
 * The errors the `operon` command reports. Each has a stable code documented in docs/errors.md;
 * `report-error.ts` prints the message as one line and picks the exit code.
 */
import { OperonError } from '@operon/sdk';

/** A command line the CLI cannot act on (a bad flag value, a missing argument). Exit code 2. */
export class OperonCliUsageError extends OperonError {
  static override readonly CODE = 'OPERON_ERR_CLI_USAGE';
}

/** `operon init` was given a name npm would not accept as a package name. */
export class OperonCliInvalidAppNameError extends OperonError {
  static override readonly CODE = 'OPERON_ERR_CLI_INVALID_APP_NAME';
  constructor(readonly appName: string, reason: string) {
    super(`invalid app name ${JSON.stringify(appName)}: ${reason}`);
  }
}

/** `operon init` was pointed at a folder that already holds files (or at a file). */
export class OperonCliTargetNotEmptyError extends OperonError {
  static override readonly CODE = 'OPERON_ERR_CLI_TARGET_NOT_EMPTY';
  constructor(readonly target: string, detail: string) {
    super(`${target} ${detail}; choose a new folder name, or empty it first`);
  }
}

/** `operon init --template` named a template the CLI does not ship. */
export class OperonCliTemplateNotFoundError extends OperonError {
  static override readonly CODE = 'OPERON_ERR_CLI_TEMPLATE_NOT_FOUND';
  constructor(readonly template: string, available: readonly string[]) {
    super(
      available.length === 0
        ? `no templates found next to the operon CLI; reinstall @operon/cli`
        : `unknown template ${JSON.stringify(template)}; available: ${available.join(', ')}`,
    );
  }
}

/** `operon build` found no entry file (`src/operations.ts`). */
export class OperonCliEntryNotFoundError extends OperonError {
  static override readonly CODE = 'OPERON_ERR_CLI_ENTRY_NOT_FOUND';
  constructor(readonly entry: string) {
    super(`${entry} not found: operon build bundles the app from src/operations.ts in the app folder (the folder of operon-config.yaml)`);
  }
}

/** esbuild reported errors; they were printed, one per line, before this. */
export class OperonCliBuildFailedError extends OperonError {
  static override readonly CODE = 'OPERON_ERR_CLI_BUILD_FAILED';
}

/** `operon start` found no bundle at `runtimeConfig.entrypoint`. */
export class OperonCliBundleNotFoundError extends OperonError {
  static override readonly CODE = 'OPERON_ERR_CLI_BUNDLE_NOT_FOUND';
  constructor(readonly bundle: string) {
    super(`${bundle} not found: run \`operon build\` first (runtimeConfig.entrypoint names the bundle to load)`);
  }
}

/** Importing the bundle threw, or it exports no class with Operon decorators. */
export class OperonCliBundleLoadError extends OperonError {
  static override readonly CODE = 'OPERON_ERR_CLI_BUNDLE_LOAD_FAILED';
}

/** The HTTP port is taken (by another `operon start`, most likely) or may not be used. */
export class OperonCliPortInUseError extends OperonError {
  static override readonly CODE = 'OPERON_ERR_CLI_PORT_IN_USE';
  constructor(readonly host: string, readonly port: number, reason: 'in-use' | 'denied') {
    super(
      reason === 'in-use'
        ? `port ${port} is in use (is another \`operon start\` running for this app?); stop it, or pass -p <port>`
        : `port ${port} on ${host} may not be used by this user; pass -p <port> with a port above 1023`,
    );
  }
}

/** The database could not be reached, or refused the connection. */
export class OperonCliDatabaseError extends OperonError {
  static override readonly CODE = 'OPERON_ERR_CLI_DATABASE_UNREACHABLE';
}

/** One of the configured `database.migrate` or `database.rollback` commands exited non-zero. */
export class OperonCliMigrationCommandError extends OperonError {
  static override readonly CODE = 'OPERON_ERR_CLI_MIGRATION_COMMAND_FAILED';
  constructor(readonly key: string, readonly command: string, outcome: string) {
    super(`${key} \`${command}\` ${outcome}; the commands after it were not run`);
  }
}

/** `operon debug` replayed a workflow and the code disagrees with its record. Exit code 1. */
export class OperonCliReplayDivergedError extends OperonError {
  static override readonly CODE = 'OPERON_ERR_CLI_REPLAY_DIVERGED';
}
