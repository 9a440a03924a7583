/**
 * The `operon` CLI as a user runs it: the built binary (packages/cli/dist), in child processes,
 * with an environment cleared of anything that would point it at another database or test run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const CLI_MAIN = join(REPO, 'packages/cli/dist/main.js');

/** The CLI tests run the built packages, as a user would; say how to build them if they are missing. */
export function assertCliBuilt(): void {
  for (const pkg of ['sdk', 'runtime', 'cli']) {
    const main = join(REPO, 'packages', pkg, 'dist', pkg === 'cli' ? 'main.js' : 'index.js');
    if (!existsSync(main)) {
      throw new Error(`${main} is missing: build the packages first with \`npx -y pnpm@10 run build\` (\`pnpm test\` does it)`);
    }
  }
}

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
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `command args` to completion (killed after `timeoutMs`). */
export function run(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** `operon <args>` with the repository's built CLI. */
export function operon(args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<CliResult> {
  return run(process.execPath, [CLI_MAIN, ...args], options);
}

/** A failure as the CLI promises it: exactly one line on stderr, no stack trace. */
export function expectOneLineError(result: CliResult, code: number, pattern: RegExp): void {
  const lines = result.stderr.trimEnd().split('\n');
  expect(result.code, `stderr: ${result.stderr}\nstdout: ${result.stdout}`).toBe(code);
  expect(lines, result.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
  expect(result.stderr).not.toMatch(/^\s+at /m);
}

/** A long-running child (`operon start`) whose output is watched. */
export interface Server {
  readonly child: ChildProcess;
  output(): string;
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function spawnServer(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Server {
  const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  const listeners = new Set<() => void>();
  const onData = (chunk: Buffer): void => {
    text += chunk.toString();
    for (const listener of [...listeners]) listener();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      for (const listener of [...listeners]) listener();
      resolve({ code, signal });
    }),
  );
  const waitFor = (pattern: RegExp, timeoutMs = 45_000): Promise<RegExpMatchArray> =>
    new Promise((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        listeners.delete(check);
      };
      const check = (): void => {
        const match = text.match(pattern);
        if (match) {
          done();
          resolve(match);
        } else if (child.exitCode !== null || child.signalCode !== null) {
          done();
          reject(new Error(`the process ended (${child.exitCode ?? child.signalCode}) before printing ${pattern}; output:\n${text}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no ${pattern} after ${timeoutMs} ms; output:\n${text}`));
      }, timeoutMs);
      listeners.add(check);
      check();
    });
  return {
    child,
    output: () => text,
    waitFor,
    exited,
    kill: (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Stops an app's embedded Postgres if it still runs (after a SIGKILL nobody else stops it). */
export async function stopEmbeddedPostgres(appDir: string): Promise<void> {
  const pidFile = join(appDir, '.operon', 'pgdata', 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  const alive = (): boolean => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (!Number.isInteger(pid) || pid <= 0 || !alive()) return;
  process.kill(pid, 'SIGINT'); // Postgres's "fast" shutdown
  for (let i = 0; i < 300 && alive(); i++) await new Promise((r) => setTimeout(r, 100));
}
