/**
 * The runtime a command works with (`start`, `migrate`, `rollback`), created so that the command
 * leaves the embedded Postgres as it found it: started by this command, it is stopped at the end;
 * found running (another `operon start`, or one that was killed), it is left running.
 */
import { OperonRuntime, createLogger, type OperonConfig, type StoredBundle } from '@operon/runtime';
import { OperonError } from '@operon/sdk';
import { OperonCliDatabaseError } from '../errors.js';
import { displayPath } from './display-path.js';
import { embeddedPostgresRunning } from './embedded-postgres-state.js';

export type Logger = ReturnType<typeof createLogger>;

export interface OpenedRuntime {
  readonly runtime: OperonRuntime;
  /** True when the embedded Postgres was not running before this command. */
  readonly startedEmbedded: boolean;
  /** Destroys the runtime; `stopEmbedded` defaults to {@link startedEmbedded}. */
  close(options?: { stopEmbedded?: boolean }): Promise<void>;
}

export async function openRuntime(
  config: OperonConfig,
  classes: readonly unknown[],
  logger: Logger,
  options: { readOnly?: boolean; executes?: boolean; bundle?: StoredBundle } = {},
): Promise<OpenedRuntime> {
  const startedEmbedded = config.database.embedded && !embeddedPostgresRunning(config);
  let runtime: OperonRuntime;
  try {
    runtime = await OperonRuntime.create({ config, classes, logger, readOnly: options.readOnly, executes: options.executes, bundle: options.bundle });
  } catch (error) {
    throw asDatabaseError(error, config);
  }
  return {
    runtime,
    startedEmbedded,
    close: (options = {}) => runtime.destroy({ stopEmbedded: options.stopEmbedded ?? startedEmbedded }),
  };
}

/** Names the server for errors that come from `pg` (connection refused, bad password, …). */
function asDatabaseError(error: unknown, config: OperonConfig): unknown {
  if (error instanceof OperonError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  // Logins the server refused come without a code ("SASL: … client password must be a string").
  const fromDatabase = typeof code === 'string' || /connect|connection|timeout|password|SASL|SCRAM/i.test((error as Error | null)?.message ?? '');
  if (!fromDatabase) return error;
  const { hostname, port, username } = config.database;
  const where = config.database.embedded ? `the embedded Postgres on port ${port}` : `Postgres at ${hostname}:${port} as ${username}`;
  const detail = (error as Error).message.split('\n')[0];
  return new OperonCliDatabaseError(
    `cannot use ${where}: ${detail}${typeof code === 'string' ? ` (${code})` : ''}; check the database section of ${config.file ? displayPath(config.file) : 'the config'}`,
  );
}
