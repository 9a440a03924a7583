/**
 * The `operon` binary as a user runs it (packages/cli/dist/main.js), in child processes with an
 * environment cleared of anything that would point it at another database or executor.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, found from this file whether it runs from the sources or from a bundle. */
export const REPO = findRepo(dirname(fileURLToPath(import.meta.url)));
export const CLI_MAIN = join(REPO, 'packages/cli/dist/main.js');

function findRepo(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'pnpm-workspace.yaml'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no pnpm-workspace.yaml above ${from}`);
  }
}

/** Every `operon` child still running, killed if the harness exits first (a fuzzed config may serve). */
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** process.env without database, Operon or test-runner settings, plus `extra`. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(PG|DATABASE_URL$|OPERON_|VITEST|NODE_OPTIONS$|NODE_ENV$|TEST$|npm_|FORCE_COLOR$)/.test(key)) continue;
    env[key] = value;
  }
  return { ...env, CI: 'true', NO_COLOR: '1', ...extra };
}

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
}

/**
 * Runs `operon <args>` to completion; after `timeoutMs` it is sent SIGTERM, then SIGKILL. With
 * `stopWhen`, a process whose output matches it (a server that started) is sent SIGTERM too.
 */
export function runOperon(
  args: readonly string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; stopWhen?: RegExp },
): Promise<CliResult & { stoppedOnMatch: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_MAIN, ...args], { cwd: options.cwd, env: options.env ?? cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    child.once('exit', () => running.delete(child));
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let stoppedOnMatch = false;
    const stop = (): void => {
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 15_000).unref();
    };
    const watch = (): void => {
      if (options.stopWhen && !stoppedOnMatch && options.stopWhen.test(stdout + stderr)) {
        stoppedOnMatch = true;
        stop();
      }
    };
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      watch();
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      watch();
    });
    const timer = setTimeout(() => {
      timedOut = true;
      stop();
    }, options.timeoutMs ?? 60_000);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut, stoppedOnMatch });
    });
  });
}

/** Runs `operon <args>` and throws with its output unless it exits 0. */
export async function operonOrThrow(args: readonly string[], options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<CliResult> {
  const result = await runOperon(args, options);
  if (result.code !== 0) {
    throw new Error(`operon ${args.join(' ')} failed (${result.code ?? result.signal}):\n${result.stdout}${result.stderr}`);
  }
  return result;
}
