/**
 * `operon openapi [-o file]`: the OpenAPI 3.1 document of the app's routes, made from the built
 * bundle alone (no database, no server), on stdout or into a file.
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { CliCommand } from '../cli-command.js';
import { withConfigOption, type ConfigOption } from '../cli-options.js';
import { displayPath } from '../app/display-path.js';

interface OpenApiOptions extends ConfigOption {
  output?: string;
}

export async function writeOpenApi(options: OpenApiOptions): Promise<void> {
  const [{ appInfo, loadConfig, openApiDocument }, { loadAppClasses }] = await Promise.all([import('@operon/runtime'), import('../app/load-bundle.js')]);
  const config = loadConfig(options.config);
  const classes = await loadAppClasses(config.runtimeConfig.entrypoint);
  const text = `${JSON.stringify(openApiDocument(classes, appInfo(config.appDir)), null, 2)}\n`;
  if (options.output === undefined) {
    process.stdout.write(text);
    return;
  }
  const file = resolve(options.output);
  writeFileSync(file, text);
  process.stderr.write(`wrote ${displayPath(file)}\n`);
}

const openapi: CliCommand = {
  order: 65,
  register(program: Command): void {
    withConfigOption(
      program
        .command('openapi')
        .description("print the OpenAPI 3.1 document of the app's routes, from the built bundle (no database needed)")
        .option('-o, --output <file>', 'write the document to this file instead of stdout'),
    ).action((options: OpenApiOptions) => writeOpenApi(options));
  },
};

export default openapi;
