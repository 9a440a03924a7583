/**
 * A version is a bundle, named by the hash of its bytes: the same build is the same version on
 * every machine, and any change to the code (or to what it bundles) is a new one.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { getClassRegistration } from '@operon/sdk';
import type { StoredBundle } from '../system-db/system-database.js';

/** Hex digits of the bundle's SHA-256 that name a version: short enough to read, far too many to collide. */
const VERSION_LENGTH = 16;

export function versionOf(bundle: Buffer): string {
  return createHash('sha256').update(bundle).digest('hex').slice(0, VERSION_LENGTH);
}

/** The bundle at `path` with its external source map (`<path>.map`) if there is one, as it is stored. */
export function readBundle(path: string): StoredBundle {
  const bundle = readFileSync(path);
  const mapFile = `${path}.map`;
  return { version: versionOf(bundle), bundle, sourceMap: existsSync(mapFile) ? readFileSync(mapFile) : null };
}

/**
 * The Operon classes a bundle exports: every export a decorator registered. The registry key is
 * `Symbol.for`, so classes decorated by the bundle's own copy of `@operon/sdk` are found too.
 */
export function bundleClasses(exports: Record<string, unknown>): unknown[] {
  return [...new Set(Object.values(exports).filter((value) => getClassRegistration(value) !== undefined))];
}
