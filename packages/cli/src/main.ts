#!/usr/bin/env node
/**
 * The `operon` command. Each subcommand is one module in `commands/` whose default export is a
 * {@link CliCommand}; they are found by listing that folder, so adding a command touches no other
 * file. Every failure ends here: one line on stderr and a non-zero exit code.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { Command } from 'commander';
import type { CliCommand } from './cli-command.js';
import { reportError } from './report-error.js';

const COMMANDS_DIR = new URL('./commands/', import.meta.url);

async function loadCommands(): Promise<CliCommand[]> {
  // Compiled output only: `.js` files, not their `.d.ts` or source maps.
  const files = readdirSync(COMMANDS_DIR).filter((file) => file.endsWith('.js')).sort();
  const modules = await Promise.all(files.map((file) => import(new URL(file, COMMANDS_DIR).href) as Promise<{ default: CliCommand }>));
  return modules.map((module) => module.default).sort((a, b) => a.order - b.order);
}

function cliVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return manifest.version;
}

async function main(argv: readonly string[]): Promise<number> {
  const program = new Command('operon')
    .description('Build, run and migrate Operon apps: durable TypeScript backends on Postgres')
    .version(cliVersion(), '-v, --version')
    // The program's own --version only before a command: after one, `--version` is that command's
    // (resume, fork, workflows list take a version hash).
    .enablePositionalOptions()
    .showSuggestionAfterError()
    // Throw instead of exiting, so every failure leaves through reportError.
    .exitOverride();
  for (const command of await loadCommands()) command.register(program);
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (error) {
    return reportError(error);
  }
}

const code = await main(process.argv);
// A failed command is over: exit now. Left to drain, the event loop could wait on sockets a failed
// login leaves open (node-postgres keeps one after a refused SASL exchange until the server's
// authentication_timeout, a minute). A command that succeeded keeps running (`start` serves).
if (code !== 0) process.exit(code);
