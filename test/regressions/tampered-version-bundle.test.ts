/**
 * A version's bundle is named by the hash of its bytes, but loading it never checked them: a row
 * of operon.versions whose bytes were changed (rewritten, truncated) was written out and imported
 * as that version, running whatever it held inside every executor that recovers one of its
 * workflows. And the start that serves the right bytes again kept the bad row (ON CONFLICT only
 * touched last_seen). The files a load imports sat in a directory it never checked: one that
 * already existed world-writable stayed so (another local user could swap the file between its
 * write and its import), and a symlink in its place sent the bundle wherever it pointed.
 *
 * Expected: a bundle whose bytes do not hash to its version is refused before any of it runs; a
 * start of the right bytes repairs the row; the directory is made owner-only, and one that is a
 * symlink or another user's is refused.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OperonVersionLoadError, Workflow, type WorkflowContext } from '@operon/sdk';
import type { OperonRuntime } from '@operon/runtime';
import { FunctionRegistry } from '../../packages/runtime/src/executor/function-registry.js';
import { createLogger } from '../../packages/runtime/src/logging.js';
import type { SystemDatabase } from '../../packages/runtime/src/system-db/system-database.js';
import { versionOf } from '../../packages/runtime/src/versions/bundle-version.js';
import { LoadedVersions } from '../../packages/runtime/src/versions/loaded-versions.js';
import { startRuntime } from '../helpers/test-databases.js';

class Nothing {
  @Workflow()
  static async nothing(_ctx: WorkflowContext): Promise<number> {
    return 1;
  }
}

const flag = '__operonTamperedBundleRan';
let runtime: OperonRuntime;
let systemDb: SystemDatabase;
let root: string;

function loader(dir: string): LoadedVersions {
  return new LoadedVersions(systemDb, dir, new FunctionRegistry([], null), createLogger('silent'));
}

async function store(source: string): Promise<string> {
  const bundle = Buffer.from(source);
  const version = versionOf(bundle);
  await systemDb.storeVersion({ version, bundle, sourceMap: null });
  return version;
}

beforeAll(async () => {
  runtime = await startRuntime([Nothing]);
  systemDb = (runtime as unknown as { systemDb: SystemDatabase }).systemDb;
  root = mkdtempSync(join(tmpdir(), 'operon-tampered-'));
});

afterAll(async () => {
  await runtime?.destroy();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('a stored version bundle', () => {
  it('is refused before any of it runs when its bytes do not hash to its version, and repaired by a start of the right bytes', async () => {
    const good = `export const ${flag}Good = 1; // ${Math.random()}\n`;
    const version = await store(good);
    await systemDb.systemPool.query(`UPDATE operon.versions SET bundle = $2 WHERE version = $1`, [
      version,
      Buffer.from(`globalThis.${flag} = true; export {};\n`),
    ]);
    const error = await loader(join(root, 'a')).acquire(version).then(() => undefined, (e: unknown) => e);
    expect((globalThis as Record<string, unknown>)[flag]).toBeUndefined();
    expect(error).toBeInstanceOf(OperonVersionLoadError);
    expect((error as Error).message).toMatch(/hash/);

    // The start that serves the right bytes puts them back.
    await store(good);
    const { rows } = await systemDb.systemPool.query(`SELECT bundle FROM operon.versions WHERE version = $1`, [version]);
    expect(rows[0].bundle.toString()).toBe(good);
  });

  it('is written only into an owner-only directory of this user, never through a symlink', async () => {
    const version = await store(`export const plain = 1; // ${Math.random()}\n`);

    const loose = join(root, 'loose');
    mkdirSync(loose, { mode: 0o777 });
    chmodSync(loose, 0o777);
    // (It exports no Operon class, so the load ends with an error either way: what matters is where it wrote.)
    await loader(loose).acquire(version).catch(() => undefined);
    expect(statSync(loose).mode & 0o077).toBe(0);

    const elsewhere = join(root, 'elsewhere');
    mkdirSync(elsewhere, { mode: 0o700 });
    const linked = join(root, 'linked');
    symlinkSync(elsewhere, linked);
    const error = await loader(linked).acquire(version).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(OperonVersionLoadError);
    expect(readdirSync(elsewhere)).toEqual([]);
    expect(existsSync(join(linked, `${version}.mjs`))).toBe(false);
  });
});
