/**
 * Loads a stored version's bundle into this process beside the current one, isolated: its own
 * module instance (its classes, their registrations and its module state), so two versions of
 * class `Orders` live side by side, each in its own FunctionRegistry.
 *
 * The bundle is written to `<dir>/<version>.mjs` (its packages stay external, so the file must
 * sit where the app's node_modules resolve) and imported at a URL of its own: every load is a new
 * module instance. ES modules cannot be unloaded; an unloaded version's registry is dropped, and
 * what V8 keeps of its module is measured in docs/deploying.md.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { OperonVersionLoadError } from '@operon/sdk';
import type { StoredBundle } from '../system-db/system-database.js';
import { bundleClasses } from './bundle-version.js';

let loads = 0;

/** The file a loaded version runs from: its frames in stack traces name it. */
export function versionFile(dir: string, version: string): string {
  return join(dir, `${version}.mjs`);
}

/** Writes `stored` under `dir` and imports it as a module of its own; its Operon classes. */
export async function importVersion(stored: StoredBundle, dir: string): Promise<unknown[]> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = versionFile(dir, stored.version);
  let code = stored.bundle.toString('utf8');
  if (stored.sourceMap) {
    // The bundle names its map by its own file name; the copy names the copy of the map.
    code = code.replace(/\/\/# sourceMappingURL=[^\n]*\s*$/, '');
    code += `\n//# sourceMappingURL=${stored.version}.mjs.map\n`;
    writeAtomically(`${file}.map`, stored.sourceMap);
  }
  writeAtomically(file, code);
  // Stack traces (and `operon debug --check`'s locations) then point into the version's sources.
  process.setSourceMapsEnabled(true);
  let exports: Record<string, unknown>;
  try {
    exports = (await import(`${pathToFileURL(file).href}?load=${++loads}`)) as Record<string, unknown>;
  } catch (error) {
    const message = (error instanceof Error ? error.message : String(error)).split('\n')[0];
    throw new OperonVersionLoadError(stored.version, message);
  }
  const classes = bundleClasses(exports);
  if (classes.length === 0) throw new OperonVersionLoadError(stored.version, 'it exports no class with Operon decorators');
  return classes;
}

/** Other processes on this machine may load the same version at the same moment: none reads a half-written file. */
function writeAtomically(file: string, contents: string | Buffer): void {
  const temporary = `${file}.${process.pid}.${loads}.tmp`;
  writeFileSync(temporary, contents, { mode: 0o600 });
  renameSync(temporary, file);
}
