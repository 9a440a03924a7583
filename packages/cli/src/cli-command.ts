import type { Command } from 'commander';

/**
 * One `operon` subcommand. main.ts registers the default export of every module in `commands/`,
 * so a new command is one new file there.
 */
export interface CliCommand {
  /** Where the command is listed in `operon --help`: lower first. */
  readonly order: number;
  /**
   * Declares the subcommand on `program` (`program.command(name)…`) with its arguments, options,
   * description and async action. The action throws to fail: main.ts prints one line and exits.
   */
  register(program: Command): void;
}
