/**
 * Loads the app's bundle into this process and finds its Operon classes: every export that a
 * decorator registered. `getClassRegistration` reads a `Symbol.for` key, so it also recognises
 * classes decorated by the bundle's own copy of `@operon/sdk`.
 */
import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { getClassRegistration } from '@operon/sdk';
import { OperonCliBundleLoadError, OperonCliBundleNotFoundError } from '../errors.js';
import { displayPath } from './display-path.js';

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
  const classes = [...new Set(Object.values(exports).filter((value) => getClassRegistration(value) !== undefined))];
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
