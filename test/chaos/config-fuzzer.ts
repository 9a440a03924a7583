/**
 * The fuzzing pass over operon-config.yaml. Every mutation is loaded in this process with the
 * runtime's `loadConfig`: it must give a config or an OperonConfigError whose every line names the
 * file, never another exception. A share of them also go through `operon start -c <file>`: a
 * config error must end it with exit code 2 and one line per problem on stderr, anything else
 * with a clean start (stopped again with SIGTERM) or one line and exit code 1 or 2; never a stack
 * trace, a crash or a hang. These runs use their own databases, port and executor id, so they
 * cannot touch the app under load.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OperonConfigError, loadConfig, type OperonConfig } from '@operon/runtime';
import { mutateConfig } from './config-mutations.js';
import { cleanEnv, runOperon } from './operon-cli.js';
import type { FuzzSummary } from './http-fuzzer.js';
import type { SeededRandom } from './seeded-random.js';
import type { Timeline } from './timeline.js';

/** Variables the mutations refer to; the same set in this process and in the CLI's. */
const FUZZ_ENV = { CHAOS_SET_VAR: '5432', CHAOS_EMPTY_VAR: '' };
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);
const STACK_TRACE = /\n\s+at |\bat [\w.<>]+ \(|\.(?:ts|js|mjs):\d+:\d+/;
const CLI_TIMEOUT_MS = 45_000;

export interface ConfigFuzzOptions {
  readonly rng: SeededRandom;
  readonly timeline: Timeline;
  /** The app's config; the fuzzer's base differs in databases, port and entrypoint path. */
  readonly appConfig: Record<string, unknown>;
  readonly bundle: string;
  readonly dir: string;
  readonly httpPort: number;
  /** The harness's Postgres: the only database server a mutated config may reach. */
  readonly pgPort: number;
  readonly cases: number;
  readonly cliRuns: number;
}

type Loaded = { readonly config: OperonConfig } | { readonly configError: OperonConfigError };

export async function fuzzConfig(options: ConfigFuzzOptions): Promise<FuzzSummary> {
  const { rng, timeline, dir } = options;
  mkdirSync(dir, { recursive: true });
  const base = fuzzBase(options);
  const summary: FuzzSummary = { cases: 0, failures: [] };
  const fail = (name: string, what: string): void => {
    summary.failures.push(`${name}: ${what}`);
    timeline.log(`config fuzz failure: ${name}: ${what}`);
  };
  const cliEvery = Math.max(1, Math.floor(options.cases / Math.max(1, options.cliRuns)));
  let cliRuns = 0;
  for (let n = 0; n < options.cases; n++) {
    const mutation = mutateConfig(rng, base);
    const file = `case-${n}.yaml`;
    const path = join(dir, file);
    writeFileSync(path, mutation.text);
    const name = `${file} (${mutation.description.slice(0, 120)})`;
    summary.cases++;
    let loaded: Loaded;
    try {
      loaded = loadIn(path);
    } catch (error) {
      fail(name, `loadConfig threw ${(error as Error)?.name}: ${String((error as Error)?.message).slice(0, 200)}`);
      continue;
    }
    if ('configError' in loaded) {
      const stray = loaded.configError.message.split('\n').find((line) => !line.startsWith(path));
      if (stray !== undefined) fail(name, `a config error line that does not name the file: ${stray.slice(0, 200)}`);
    }
    if (cliRuns >= options.cliRuns || n % cliEvery !== 0 || !safeToStart(loaded, options.pgPort)) continue;
    cliRuns++;
    summary.cases++;
    const problem = await startWith(file, dir, loaded);
    if (problem) fail(`operon start -c ${name}`, problem);
  }
  timeline.log(`config fuzz: ${options.cases} mutations loaded, ${cliRuns} through operon start`);
  return summary;
}

/** The app's config on databases, a port and an executor id of the fuzzer's own. */
function fuzzBase(options: ConfigFuzzOptions): Record<string, unknown> {
  const base = structuredClone(options.appConfig) as Record<string, Record<string, unknown>>;
  // Straight to the harness's Postgres, not through the proxy the app under load uses.
  base.database = { ...base.database, port: options.pgPort, user_database: 'chaos_config_fuzz', system_database: 'chaos_config_fuzz_sys' };
  base.runtimeConfig = { ...base.runtimeConfig, port: options.httpPort, entrypoint: options.bundle };
  base.telemetry = { logs: { logLevel: 'warn' } };
  return base;
}

function loadIn(path: string): Loaded {
  try {
    return { config: loadConfig(path, { env: FUZZ_ENV }) };
  } catch (error) {
    if (error instanceof OperonConfigError) return { configError: error };
    throw error;
  }
}

/**
 * A valid config only starts if it stays with the harness's own Postgres (by hostname, so no
 * embedded server is created) and on loopback, with no trace export.
 */
function safeToStart(loaded: Loaded, pgPort: number): boolean {
  if ('configError' in loaded) return true;
  const { database, runtimeConfig, telemetry } = loaded.config;
  return (
    !database.embedded &&
    LOOPBACK.has(database.hostname) &&
    database.port === pgPort &&
    LOOPBACK.has(runtimeConfig.host) &&
    !telemetry.traces.enabled
  );
}

async function startWith(file: string, dir: string, loaded: Loaded): Promise<string | undefined> {
  // -l info: the "serving on" line is logged at info, whatever level the mutation set.
  const result = await runOperon(['start', '-c', file, '-l', 'info'], {
    cwd: dir,
    env: cleanEnv({ ...FUZZ_ENV, OPERON_EXECUTOR_ID: 'chaos-config-fuzz' }),
    timeoutMs: CLI_TIMEOUT_MS,
    stopWhen: /operon: serving on /,
  });
  const stderr = result.stderr.trimEnd();
  const lines = stderr === '' ? [] : stderr.split('\n');
  if (STACK_TRACE.test(result.stderr) || STACK_TRACE.test(result.stdout)) return `printed a stack trace: ${stderr.slice(0, 300)}`;
  if (result.timedOut) return `neither served nor exited within ${CLI_TIMEOUT_MS} ms`;
  if (result.signal !== null) return `ended by ${result.signal}`;
  if ('configError' in loaded) {
    if (result.code !== 2) return `exit code ${result.code} for a config error (expected 2): ${stderr.slice(0, 200)}`;
    if (lines.length === 0 || lines.some((line) => !line.startsWith(file))) return `config error lines that do not name ${file}: ${stderr.slice(0, 300)}`;
    return undefined;
  }
  if (result.stoppedOnMatch) return result.code === 0 ? undefined : `exit code ${result.code} after SIGTERM: ${stderr.slice(0, 200)}`;
  if (result.code !== 1 && result.code !== 2) return `exit code ${result.code}: ${stderr.slice(0, 200)}`;
  if (lines.length !== 1) return `${lines.length} lines on stderr (expected one): ${stderr.slice(0, 300)}`;
  return undefined;
}
