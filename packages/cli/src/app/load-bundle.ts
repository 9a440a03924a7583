/**
 * Loads the app's bundle into this process and finds its Operon classes: every export that a
 * decorator registered. `getClassRegistration` reads a `Symbol.for` key, so it also recognises
 * classes decorated by the bundle's own copy of `@operon/sdk`.
 */
import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { bundleClasses, readBundle, type StoredBundle } from '@operon/runtime';
import { OperonCliBundleLoadError, OperonCliBundleNotFoundError } from '../errors.js';
import { displayPath } from './display-path.js';

/** The bundle's classes and the bundle itself, as `operon start` stores it (its version is the hash of these bytes). */
export async function loadAppBundle(bundle: string): Promise<{ classes: unknown[]; stored: StoredBundle }> {
  if (!existsSync(bundle)) throw new OperonCliBundleNotFoundError(displayPath(bundle));
  // Read first: the version names the very bytes that are then imported.
  const stored = readBundle(bundle);
  return { classes: await loadAppClasses(bundle), stored };
}

export async function loadAppClasses(bundle: string): Promise<unknown[]> {
  if (!existsSync(bundle)) throw new OperonCliBundleNotFoundError(displayPath(bundle));
  // Stack traces in logs then point into the app's TypeScript (`operon build` writes a source map).
  process.setSourceMapsEnabled(true);
  let exports: Record<string, unknown>;
  try {
    exports = (await import(pathToFileURL(bundle).href)) as Record<string, unknown>;
  } catch (error) {
    throw new OperonCliBundleLoadError(`cannot load ${displayPath(bundle)}: ${loadFailure(error)}`);
  }
  const classes = bundleClasses(exports);
  if (classes.length === 0) {
    throw new OperonCliBundleLoadError(
      `${displayPath(bundle)} exports no class with Operon decorators; export your classes from src/operations.ts and run \`operon build\``,
    );
  }
  return classes;
}

function loadFailure(error: unknown): string {
  const message = (error instanceof Error ? error.message : String(error)).split('\n')[0];
  if ((error as NodeJS.ErrnoException | null)?.code === 'ERR_MODULE_NOT_FOUND') {
    return `${message}; install the app's dependencies (npm install)`;
  }
  return message;
}
