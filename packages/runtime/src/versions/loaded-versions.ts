/**
 * The versions this process has loaded beside its own: each with its own FunctionRegistry, held
 * by the workflows running on it here, and unloaded once none is left.
 */
import type { Logger } from 'pino';
import { OperonVersionLoadError } from '@operon/sdk';
import { FunctionRegistry } from '../executor/function-registry.js';
import type { SystemDatabase } from '../system-db/system-database.js';
import { importVersion, importedBefore } from './version-loader.js';

interface LoadedVersion {
  readonly registry: Promise<FunctionRegistry>;
  /** Workflows running on it in this process (and loads in progress). */
  holders: number;
}

export class LoadedVersions {
  private readonly loaded = new Map<string, LoadedVersion>();
  /** Versions whose load failed here for a reason a retry in this process would meet again, with that reason. */
  private readonly failed = new Map<string, OperonVersionLoadError>();

  constructor(
    private readonly systemDb: SystemDatabase,
    /** Where loaded bundles are written: where the app's packages resolve from. */
    private readonly dir: string,
    /** The registry of the code this process serves. */
    readonly current: FunctionRegistry,
    private readonly logger: Logger,
  ) {}

  /**
   * Whether a workflow of `version` runs on the current code: its own, or it has none (started
   * without a bundle). An executor without a bundle of its own runs only those: any other version
   * is loaded, as it is everywhere.
   */
  isCurrent(version: string | null): boolean {
    return version === null || version === this.current.version;
  }

  /** Versions this process failed to load (their bundle is missing, changed or fails to import): it leaves their workflows to others. */
  unloadable(): string[] {
    return [...this.failed.keys()];
  }

  /** The versions loaded here, this process's own first. */
  versions(): string[] {
    return [...(this.current.version === null ? [] : [this.current.version]), ...this.loaded.keys()];
  }

  /** Holds `version` (loading it from the system database on first use); release it once the workflow is done with it. */
  acquire(version: string): Promise<FunctionRegistry> {
    // Each dequeued workflow of such a version would import its failing bundle again: the first failure answers.
    const failed = this.failed.get(version);
    if (failed) return Promise.reject(failed);
    let entry = this.loaded.get(version);
    if (!entry) {
      const registry = this.load(version);
      entry = { registry, holders: 0 };
      this.loaded.set(version, entry);
      const failed = entry;
      // A failed load is forgotten, so a later recovery tries again.
      registry.catch((error: unknown) => {
        if (this.loaded.get(version) === failed) this.loaded.delete(version);
        if (error instanceof OperonVersionLoadError) this.failed.set(version, error);
      });
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
