/** Options several commands share, declared once so their flags and help read the same everywhere. */
import { InvalidArgumentError, type Command } from 'commander';

export const DEFAULT_CONFIG_FILE = 'operon-config.yaml';

export interface ConfigOption {
  config: string;
}

/** `-c, --config <file>`: the app's config file; its folder is the app folder. */
export function withConfigOption(command: Command): Command {
  return command.option('-c, --config <file>', 'the config file; its folder is the app folder', DEFAULT_CONFIG_FILE);
}

/** Parses a port flag; the range is checked with the config (so the message names the flag). */
export function parsePort(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('must be an integer from 1 to 65535.');
  return Number(value);
}
