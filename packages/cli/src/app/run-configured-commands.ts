/**
 * Runs the shell commands of `database.migrate` or `database.rollback`, in order, in the app
 * folder; their output goes straight to this process's, and the first failure stops the rest.
 */
import { spawn } from 'node:child_process';
import type { Logger } from './open-runtime.js';
import { OperonCliMigrationCommandError } from '../errors.js';

export async function runConfiguredCommands(
  key: 'database.migrate' | 'database.rollback',
  commands: readonly string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; logger: Logger },
): Promise<void> {
  for (const [index, command] of commands.entries()) {
    options.logger.info({ command }, `running ${key}[${index}]: ${command}`);
    // Our line before the command's own output, not after it.
    await new Promise<void>((resolve) => options.logger.flush(() => resolve()));
    const failure = await runShell(command, options.cwd, options.env);
    if (failure !== undefined) throw new OperonCliMigrationCommandError(`${key}[${index}]`, command, failure);
  }
}

/** Undefined on success, else how the command failed. */
function runShell(command: string, cwd: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  // A command may not wait for input nobody will type (CI, a pipe).
  const interactive = process.stdin.isTTY === true && !process.env.CI;
  return new Promise((resolve) => {
    const child = spawn(command, { shell: true, cwd, env, stdio: [interactive ? 'inherit' : 'ignore', 'inherit', 'inherit'] });
    child.once('error', (error) => resolve(`could not be started (${error.message})`));
    child.once('exit', (code, signal) => {
      if (code === 0) resolve(undefined);
      else resolve(signal ? `was killed by ${signal}` : `failed with exit code ${code}`);
    });
  });
}
