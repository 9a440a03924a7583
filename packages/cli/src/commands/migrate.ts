/**
 * `operon migrate`: Operon's system schemas, then the app's `migrations/*.sql` (each once, in name
 * order), then each `database.migrate` command, stopping at the first failure.
 */
import { join } from 'node:path';
import type { Command } from 'commander';
import type { CliCommand } from '../cli-command.js';
import { withConfigOption, type ConfigOption } from '../cli-options.js';
import { databaseEnv } from '../app/database-env.js';
import { runConfiguredCommands } from '../app/run-configured-commands.js';

export async function migrateApp(options: ConfigOption): Promise<void> {
  const [{ applyAppMigrations, createLogger, loadConfig }, { openRuntime }] = await Promise.all([import('@operon/runtime'), import('../app/open-runtime.js')]);
  const config = loadConfig(options.config);
  const logger = createLogger(config.telemetry.logs.logLevel);
  // Creating the runtime creates the databases and migrates Operon's own schemas.
  const opened = await openRuntime(config, [], logger, { executes: false });
  try {
    const applied = await applyAppMigrations(opened.runtime.appPool, join(config.appDir, 'migrations'), logger);
    if (applied.length === 0) logger.info('operon migrate: the app migrations are up to date');
    await runConfiguredCommands('database.migrate', config.database.migrate, {
      cwd: config.appDir,
      env: databaseEnv(opened.runtime),
      logger,
    });
    logger.info(`operon migrate: ${config.database.user_database} and ${config.database.system_database} are migrated`);
  } finally {
    await opened.close();
  }
}

const migrate: CliCommand = {
  order: 40,
  register(program: Command): void {
    withConfigOption(
      program
        .command('migrate')
        .description("migrate Operon's system schema, apply migrations/*.sql, then run the database.migrate commands"),
    ).action((options: ConfigOption) => migrateApp(options));
  },
};

export default migrate;
