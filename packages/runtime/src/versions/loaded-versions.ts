/**
 * The versions this process has loaded beside its own: each with its own FunctionRegistry, held
 * by the workflows running on it here, and unloaded once none is left.
 */
import type { Logger } from 'pino';
import { OperonVersionLoadError } from '@operon/sdk';
import { FunctionRegistry } from '../executor/function-registry.js';
import type { SystemDatabase } from '../system-db/system-database.js';
import { importVersion, importedBefore } from './version-loader.js';

/** A version whose load failed here: its error, and when a load is tried again. */
interface FailedLoad {
  readonly error: OperonVersionLoadError;
  readonly failures: number;
  readonly retryAt: number;
}

/**
 * A failed load is tried again after a pause that doubles with each failure, up to a bound: the
 * cause may pass (a bundle's import of a file a deploy is still writing, of a package installed a
 * moment later), and until then each dequeued workflow of that version does not import it again.
 */
export const LOAD_RETRY_FIRST_MS = 1_000;
export const LOAD_RETRY_MAX_MS = 60_000;

interface LoadedVersion {
  readonly registry: Promise<FunctionRegistry>;
  /** Workflows running on it in this process (and loads in progress). */
  holders: number;
}

export class LoadedVersions {
  private readonly loaded = new Map<string, LoadedVersion>();
  /** Versions whose load failed here, until a load of them is tried again. */
  private readonly failed = new Map<string, FailedLoad>();

  constructor(
    private readonly systemDb: SystemDatabase,
    /** Where loaded bundles are written: where the app's packages resolve from. */
    private readonly dir: string,
    /** The registry of the code this process serves. */
    readonly current: FunctionRegistry,
    private readonly logger: Logger,
    /** The pause after a version's first failed load, and the most any pause grows to. */
    private readonly retry: { readonly firstMs: number; readonly maxMs: number } = { firstMs: LOAD_RETRY_FIRST_MS, maxMs: LOAD_RETRY_MAX_MS },
  ) {}

  /**
   * Whether a workflow of `version` runs on the current code: its own, or it has none (started
   * without a bundle). An executor without a bundle of its own runs only those: any other version
   * is loaded, as it is everywhere.
   */
  isCurrent(version: string | null): boolean {
    return version === null || version === this.current.version;
  }

  /** Versions this process failed to load (their bundle is missing, changed or fails to import) and does not try again yet: it leaves their workflows to others. */
  unloadable(): string[] {
    const now = performance.now();
    return [...this.failed].filter(([, failed]) => failed.retryAt > now).map(([version]) => version);
  }

  /** The versions loaded here, this process's own first. */
  versions(): string[] {
    return [...(this.current.version === null ? [] : [this.current.version]), ...this.loaded.keys()];
  }

  /** Holds `version` (loading it from the system database on first use); release it once the workflow is done with it. */
  acquire(version: string): Promise<FunctionRegistry> {
    // Each dequeued workflow of such a version would import its failing bundle again: until its pause ends, the last failure answers.
    const failed = this.failed.get(version);
    if (failed && failed.retryAt > performance.now()) return Promise.reject(failed.error);
    let entry = this.loaded.get(version);
    if (!entry) {
      const registry = this.load(version);
      entry = { registry, holders: 0 };
      this.loaded.set(version, entry);
      const loading = entry;
      // A failed load is forgotten, so a later recovery tries again, once its pause ends.
      registry.then(
        () => this.failed.delete(version),
        (error: unknown) => {
          if (this.loaded.get(version) === loading) this.loaded.delete(version);
          if (!(error instanceof OperonVersionLoadError)) return;
          const failures = (this.failed.get(version)?.failures ?? 0) + 1;
          const pauseMs = Math.min(this.retry.firstMs * 2 ** (failures - 1), this.retry.maxMs);
          this.failed.set(version, { error, failures, retryAt: performance.now() + pauseMs });
          this.logger.warn({ version, failures, retryInMs: pauseMs }, `${error.message}; trying again in ${pauseMs} ms`);
        },
      );
    }
    entry.holders++;
    return entry.registry;
  }

  /** One workflow is done with `version`; the last one unloads it. */
  release(version: string): void {
    const entry = this.loaded.get(version);
    if (!entry || --entry.holders > 0) return;
    this.loaded.delete(version);
    this.logger.info({ version }, `unloaded version ${version}: no workflow of it runs here any more`);
  }

  private async load(version: string): Promise<FunctionRegistry> {
    const started = performance.now();
    const before = importedBefore(version);
    if (before) return new FunctionRegistry(before, version);
    const stored = await this.systemDb.loadVersion(version);
    if (!stored) throw new OperonVersionLoadError(version, 'the system database has no bundle of that version');
    const registry = new FunctionRegistry(await importVersion(stored, this.dir), version);
    this.logger.info({ version, ms: Math.round(performance.now() - started) }, `loaded version ${version} beside ${this.current.version ?? 'the current code'}`);
    return registry;
  }
}
