/** `operon rollback`: runs the `database.rollback` commands in order, stopping at the first failure. */
import type { Command } from 'commander';
import type { CliCommand } from '../cli-command.js';
import { withConfigOption, type ConfigOption } from '../cli-options.js';
import { databaseEnv } from '../app/database-env.js';
import { runConfiguredCommands } from '../app/run-configured-commands.js';

export async function rollbackApp(options: ConfigOption): Promise<void> {
  const [{ createLogger, loadConfig }, { openRuntime }] = await Promise.all([import('@operon/runtime'), import('../app/open-runtime.js')]);
  const config = loadConfig(options.config);
  const logger = createLogger(config.telemetry.logs.logLevel);
  if (config.database.rollback.length === 0) {
    // migrations/*.sql have no down steps; only configured commands can undo anything.
    logger.info('operon rollback: no database.rollback commands are configured; nothing to do');
    return;
  }
  const opened = await openRuntime(config, [], logger, { executes: false });
  try {
    await runConfiguredCommands('database.rollback', config.database.rollback, {
      cwd: config.appDir,
      env: databaseEnv(opened.runtime),
      logger,
    });
    logger.info('operon rollback: done');
  } finally {
    await opened.close();
  }
}

const rollback: CliCommand = {
  order: 50,
  register(program: Command): void {
    withConfigOption(
      program.command('rollback').description('run the database.rollback commands, in order, on the app database'),
    ).action((options: ConfigOption) => rollbackApp(options));
  },
};

export default rollback;
