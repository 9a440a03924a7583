/**
 * The app under test, laid out as a user's app folder in the run's temp folder: the sources of
 * test/chaos/app, a package.json, an operon-config.yaml naming the harness's Postgres by hostname
 * and port (the port of the harness's proxy in front of it), and `@operon/sdk` linked into
 * node_modules. Then `operon build` and `operon migrate`, as a user would run them.
 */
import { cpSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PG_PASSWORD, PG_USER } from './postgres-server.js';
import { REPO, operonOrThrow } from './operon-cli.js';
import { toYaml } from './yaml-text.js';

export const APP_DATABASE = 'chaos';
export const SYSTEM_DATABASE = 'chaos_operon_sys';

export interface ChaosApp {
  readonly dir: string;
  readonly configFile: string;
  /** The file the app's communicator appends one line to per run. */
  readonly sideLog: string;
  /** The file the ledger's charge communicator appends one line to per run. */
  readonly ledgerLog: string;
  /** The run's folder: each runtime's server log goes there. */
  readonly root: string;
  readonly httpPort: number;
  readonly baseUrl: string;
  /** The UUIDs of the collector workflows (the app reads them from its config). */
  readonly collectors: readonly string[];
  /** The config as written, for the config fuzzer to mutate. */
  readonly config: Record<string, unknown>;
}

export function appConfig(options: { pgPort: number; httpPort: number; sideLog: string; ledgerLog: string; collectors: readonly string[] }): Record<string, unknown> {
  return {
    database: {
      hostname: '127.0.0.1',
      port: options.pgPort,
      username: PG_USER,
      password: PG_PASSWORD,
      user_database: APP_DATABASE,
      system_database: SYSTEM_DATABASE,
      connectionTimeoutMillis: 3000,
      poolSize: 10,
    },
    runtimeConfig: { host: '127.0.0.1', port: options.httpPort, entrypoint: 'dist/operations.js' },
    telemetry: { logs: { logLevel: 'info' } },
    application: { sideLog: options.sideLog, ledgerLog: options.ledgerLog, collectors: [...options.collectors] },
  };
}

/** `pgPort` is where the app reaches Postgres: the proxy's port, so faults can cut its connections. */
export async function prepareApp(root: string, options: { pgPort: number; httpPort: number; collectors: readonly string[] }): Promise<ChaosApp> {
  const dir = join(root, 'app');
  mkdirSync(dir, { recursive: true });
  for (const part of ['src', 'migrations']) cpSync(join(REPO, 'test/chaos/app', part), join(dir, part), { recursive: true });
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify({ name: 'chaos-app', private: true, type: 'module' }, null, 2)}\n`);
  // The bundle keeps packages external, as `operon build` always does: link the SDK it imports.
  mkdirSync(join(dir, 'node_modules', '@operon'), { recursive: true });
  symlinkSync(join(REPO, 'packages/sdk'), join(dir, 'node_modules', '@operon', 'sdk'), 'dir');
  const sideLog = join(root, 'side-log.jsonl');
  writeFileSync(sideLog, '');
  const ledgerLog = join(root, 'ledger-log.jsonl');
  writeFileSync(ledgerLog, '');
  const config = appConfig({ ...options, sideLog, ledgerLog });
  const configFile = join(dir, 'operon-config.yaml');
  writeFileSync(configFile, `# written by the chaos harness\n${toYaml(config)}`);
  await operonOrThrow(['build', '-c', configFile], { cwd: dir });
  await operonOrThrow(['migrate', '-c', configFile], { cwd: dir, timeoutMs: 120_000 });
  return {
    dir,
    configFile,
    sideLog,
    ledgerLog,
    root,
    httpPort: options.httpPort,
    baseUrl: `http://127.0.0.1:${options.httpPort}`,
    collectors: options.collectors,
    config,
  };
}
