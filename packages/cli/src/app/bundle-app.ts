/**
 * `operon build`'s bundler: esbuild turns `src/operations.ts` and everything it imports from the
 * app into one ES module at `runtimeConfig.entrypoint`. Packages stay external (imported from
 * node_modules at run time), so `pg` and the runtime are never bundled twice. esbuild reads the
 * app's tsconfig.json, which picks the decorator mode (TC39 unless `experimentalDecorators`).
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { build, type BuildFailure, type Message } from 'esbuild';
import type { OperonConfig } from '@operon/runtime';
import { OperonCliBuildFailedError, OperonCliEntryNotFoundError } from '../errors.js';
import { displayPath } from './display-path.js';
import { closeToOtherWriters } from './file-modes.js';
import { parameterNamesPlugin } from './parameter-names-plugin.js';

export const ENTRY = join('src', 'operations.ts');

export interface BundleResult {
  readonly outfile: string;
  readonly bytes: number;
  /** esbuild's warnings, one line each. */
  readonly warnings: readonly string[];
}

export async function bundleApp(config: OperonConfig): Promise<BundleResult> {
  const entry = join(config.appDir, ENTRY);
  if (!existsSync(entry)) throw new OperonCliEntryNotFoundError(displayPath(entry));
  const tsconfig = join(config.appDir, 'tsconfig.json');
  const outfile = config.runtimeConfig.entrypoint;
  const newFolder = !existsSync(dirname(outfile));
  try {
    const result = await build({
      absWorkingDir: config.appDir,
      entryPoints: [entry],
      outfile,
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      sourcemap: true,
      // Operon records operations as `Class.method`; without keepNames esbuild renames a class
      // that refers to itself (`Greetings` → `_Greetings`), and records would stop matching code.
      keepNames: true,
      packages: 'external',
      tsconfig: existsSync(tsconfig) ? tsconfig : undefined,
      logLevel: 'silent',
      plugins: [parameterNamesPlugin()],
    });
    // `operon start` runs this file: no other user may change it (or, in a folder made here, replace it).
    for (const written of [outfile, `${outfile}.map`, ...(newFolder ? [dirname(outfile)] : [])]) closeToOtherWriters(written);
    return { outfile, bytes: statSync(outfile).size, warnings: result.warnings.map((m) => formatMessage(m, 'warning', config.appDir)) };
  } catch (error) {
    const failure = error as Partial<BuildFailure>;
    if (!Array.isArray(failure.errors) || failure.errors.length === 0) throw error;
    throw new OperonCliBuildFailedError(failure.errors.map((m) => formatMessage(m, 'error', config.appDir)).join('\n'));
  }
}

/** `src/operations.ts:12:5: error: Expected ";" but found "}"`, the form editors link to. */
function formatMessage(message: Message, kind: 'error' | 'warning', appDir: string): string {
  const where = message.location;
  if (!where) return `${kind}: ${message.text}`;
  return `${displayPath(resolve(appDir, where.file))}:${where.line}:${where.column + 1}: ${kind}: ${message.text}`;
}
