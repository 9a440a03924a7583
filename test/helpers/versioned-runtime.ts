/**
 * A runtime that serves one version of a bundled app (see version-bundle.ts), with the bundles of
 * other versions stored beside it as deploys store them: for tests of moving workflows between
 * versions. A version's loaded copy is written under the config's app folder, a fresh one here.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OperonRuntime, type OperonConfig } from '@operon/runtime';
import { createLogger } from '../../packages/runtime/src/logging.js';
import { query, testConfig } from './test-databases.js';

export interface Bundle {
  readonly version: string;
  readonly bundle: Buffer;
  readonly sourceMap: null;
}

/** testConfig(prefix, extra) with an app folder of its own; `removeAppDir` deletes the folder. */
export function configWithAppDir(prefix: string, extra: Record<string, unknown> = {}): { config: OperonConfig; removeAppDir(): void } {
  const dir = mkdtempSync(join(tmpdir(), `operon-${prefix}-`));
  return { config: { ...testConfig(prefix, extra), appDir: dir }, removeAppDir: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A recovered runtime of version `bundle` serving `cls` (that version's class), logging nothing. */
export async function startVersion(config: OperonConfig, cls: unknown, bundle: Bundle): Promise<OperonRuntime> {
  const runtime = await OperonRuntime.create({ config, classes: [cls], bundle, logger: createLogger('silent') });
  await runtime.recover();
  return runtime;
}

/** Stores another version's bundle, as its deploy does: a move to it can then load it. */
export async function storeVersion(config: OperonConfig, bundle: Bundle): Promise<void> {
  await query(config.database.system_database, `INSERT INTO operon.versions (version, bundle) VALUES ($1, $2)`, [bundle.version, bundle.bundle]);
}
