/**
 * An app folder for tests that go through the public surface: an `operon-config.yaml` naming two
 * fresh databases on the test server, and a `migrations/` folder next to it, as
 * `createTestingRuntime(classes, configPath)` expects. The config is written as JSON, which YAML
 * reads as it is.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testConfigInput } from './test-databases.js';

export interface AppDir {
  readonly dir: string;
  readonly configPath: string;
  /** The config as written (database names included). */
  readonly config: Record<string, any>;
  remove(): void;
}

export interface AppDirOptions {
  /** Merged into the `database` section (for example a proxy's host and port). */
  readonly database?: Record<string, unknown>;
  readonly runtimeConfig?: Record<string, unknown>;
  readonly application?: Record<string, unknown>;
  /** File name → SQL, applied in name order by the testing runtime. */
  readonly migrations?: Record<string, string>;
  /** @default 'warn' ('error' where a test causes warnings on purpose) */
  readonly logLevel?: string;
}

export function writeAppDir(prefix: string, options: AppDirOptions = {}): AppDir {
  const dir = mkdtempSync(join(tmpdir(), `operon-${prefix}-`));
  const input = testConfigInput(prefix, options.database ? { database: options.database } : {});
  const config: Record<string, any> = {
    ...input,
    telemetry: { logs: { logLevel: options.logLevel ?? 'warn' } },
    ...(options.runtimeConfig ? { runtimeConfig: options.runtimeConfig } : {}),
    ...(options.application ? { application: options.application } : {}),
  };
  const configPath = join(dir, 'operon-config.yaml');
  writeFileSync(configPath, `${JSON.stringify(config, null, 2)}\n`);
  mkdirSync(join(dir, 'migrations'));
  for (const [name, sql] of Object.entries(options.migrations ?? {})) writeFileSync(join(dir, 'migrations', name), sql);
  return { dir, configPath, config, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Resolves `promise`, or `fallback` after `ms` (so a hang shows as a value an assertion can name). */
export function within<T, F>(promise: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<F>((resolve) => {
      timer = setTimeout(() => resolve(fallback), ms);
    }),
  ]);
}

/** What a rejection carried, in a form `toEqual` can compare: name, message, code and own props. */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
    return { resolved: true };
  } catch (error) {
    return error;
  }
}
