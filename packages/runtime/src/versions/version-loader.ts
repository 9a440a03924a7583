/**
 * Loads a stored version's bundle into this process beside the current one, isolated: its own
 * module instance (its classes, their registrations and its module state), so two versions of
 * class `Orders` live side by side, each in its own FunctionRegistry.
 *
 * The bundle is written to `<dir>/<version>.mjs` (its packages stay external, so the file must
 * sit where the app's node_modules resolve) and imported at a URL of its own: every load is a new
 * module instance, and a load that failed is tried again on the files as they are now
 * (fresh-imports.ts). ES modules cannot be unloaded: an unloaded version's registry is dropped, but
 * V8 keeps its module for the life of the process. So a version is imported once per process and
 * its module instance is reused when it is loaded again: a process that loads and unloads one
 * version over and over keeps one copy of it, not one per load (docs/deploying.md has the figures).
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, lstatSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { OperonVersionLoadError } from '@operon/sdk';
import type { StoredBundle } from '../system-db/system-database.js';
import { bundleClasses, versionOf } from './bundle-version.js';
import { importFresh } from './fresh-imports.js';

/** The classes of every version this process has imported: its module lives on anyway, so a later load reuses it. */
const imported = new Map<string, unknown[]>();

/** The file a loaded version runs from: its frames in stack traces name it. */
export function versionFile(dir: string, version: string): string {
  return join(dir, `${version}.mjs`);
}

/** The classes of `version` if this process imported it before: loading it again needs no bundle. */
export function importedBefore(version: string): unknown[] | undefined {
  return imported.get(version);
}

/** Writes `stored` under `dir` and imports it as a module of its own; its Operon classes. */
export async function importVersion(stored: StoredBundle, dir: string): Promise<unknown[]> {
  // The version is the hash of the bytes: a row changed or cut short since it was stored is not that version, and none of it runs.
  if (versionOf(stored.bundle) !== stored.version) {
    throw new OperonVersionLoadError(stored.version, 'its stored bundle does not hash to its version (changed or truncated in the system database)');
  }
  // Same hash, same bytes: the module imported before is this version's code.
  const before = imported.get(stored.version);
  if (before) return before;
  ownerOnlyDirectory(dir, stored.version);
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
    exports = await importFresh(pathToFileURL(file).href, join(dir, 'operon-import-hooks.mjs'), writeAtomically);
  } catch (error) {
    const message = (error instanceof Error ? error.message : String(error)).split('\n')[0];
    throw new OperonVersionLoadError(stored.version, message);
  }
  const classes = bundleClasses(exports);
  if (classes.length === 0) throw new OperonVersionLoadError(stored.version, 'it exports no class with Operon decorators');
  imported.set(stored.version, classes);
  return classes;
}

/**
 * The file is imported after it is written: nobody else may write the directory in between. One
 * of this user's is made owner-only; a symlink, or a directory of another user, is refused.
 */
function ownerOnlyDirectory(dir: string, version: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stat = lstatSync(dir);
  if (!stat.isDirectory()) throw new OperonVersionLoadError(version, `${dir} is not a directory (a symlink is refused: the bundle is written only where this process decides)`);
  const uid = process.getuid?.();
  if (uid !== undefined && stat.uid !== uid) throw new OperonVersionLoadError(version, `${dir} belongs to another user (uid ${stat.uid})`);
  if ((stat.mode & 0o077) !== 0) chmodSync(dir, 0o700);
}

/** Other processes on this machine may load the same version at the same moment: none reads a half-written file. */
function writeAtomically(file: string, contents: string | Buffer): void {
  // Random, not only the pid: a container's restart reuses its pid, and a crash may have left a temporary behind.
  const temporary = `${file}.${process.pid}.${randomBytes(8).toString('hex')}.tmp`;
  // 'wx': never through a file (or symlink) already at that name.
  writeFileSync(temporary, contents, { mode: 0o600, flag: 'wx' });
  renameSync(temporary, file);
}
