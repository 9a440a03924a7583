/** `operon build`: bundles `src/operations.ts` into `runtimeConfig.entrypoint` with esbuild. */
import type { Command } from 'commander';
import type { CliCommand } from '../cli-command.js';
import { withConfigOption, type ConfigOption } from '../cli-options.js';
import { displayPath } from '../app/display-path.js';

export async function buildApp(options: ConfigOption): Promise<void> {
  // Loaded here, not at the top: `operon --help` and flag errors start without the runtime or esbuild.
  const [{ loadConfig }, { bundleApp }] = await Promise.all([import('@operon/runtime'), import('../app/bundle-app.js')]);
  const config = loadConfig(options.config);
  const result = await bundleApp(config);
  for (const warning of result.warnings) process.stderr.write(`${warning}\n`);
  process.stdout.write(`built ${displayPath(result.outfile)} (${(result.bytes / 1024).toFixed(1)} kB)\n`);
}

const build: CliCommand = {
  order: 20,
  register(program: Command): void {
    withConfigOption(
      program
        .command('build')
        .description('bundle the app (src/operations.ts) into runtimeConfig.entrypoint, with a source map'),
    ).action((options: ConfigOption) => buildApp(options));
  },
};

export default build;
