/**
 * How a failed command ends: its message on stderr (one line per problem, never a stack trace
 * unless OPERON_DEBUG=1) and an exit code. 2 means "fix your input" (the config file, a flag);
 * 1 means the command itself failed.
 */
import { CommanderError } from 'commander';
import { OperonError } from '@operon/sdk';
import { terminalSafe } from './app/terminal-text.js';
import { OperonCliUsageError } from './errors.js';

export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/**
 * The code of `OperonConfigError`. Its class lives in `@operon/runtime`, which this module must not
 * load (`operon --help` and flag errors start without it); codes are stable, so the code identifies it.
 */
const CONFIG_ERROR_CODE = 'OPERON_ERR_CONFIG_INVALID';

/** Prints `error` and returns the process exit code. */
export function reportError(error: unknown): number {
  // Commander has already printed its own one-line message (or the help text).
  if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : EXIT_USAGE;
  const debug = process.env.OPERON_DEBUG === '1';
  // A message may quote recorded text (a diverged replay's error): its control characters are shown, not sent.
  process.stderr.write(`${terminalSafe(debug && error instanceof Error && error.stack ? error.stack : describe(error), { keepNewlines: true })}\n`);
  const usage = (error instanceof OperonError && error.code === CONFIG_ERROR_CODE) || error instanceof OperonCliUsageError;
  return usage ? EXIT_USAGE : EXIT_FAILURE;
}

function describe(error: unknown): string {
  // Operon's messages are written to be read as they are; a config error has one line per problem.
  if (error instanceof OperonError) return error.message;
  const message = error instanceof Error ? error.message : String(error);
  const firstLine = message.split('\n').find((line) => line.trim() !== '') ?? 'unknown error';
  return `unexpected error: ${firstLine} (set OPERON_DEBUG=1 to see the stack trace)`;
}
