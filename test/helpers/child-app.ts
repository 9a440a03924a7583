/**
 * Real child processes for crash tests: a fixture TypeScript file is bundled with esbuild (as
 * `operon build` would, keepNames on) and run with node; tests kill it with SIGKILL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, stop } from 'esbuild';

const repo = fileURLToPath(new URL('../../', import.meta.url));
// Inside packages/runtime so the bundle resolves the runtime's own dependencies (pg, pino, …).
const buildDir = join(repo, 'packages/runtime/.test-build');

/** Bundles `test/fixtures/<name>` with Operon's sources; returns the bundle's path. */
export async function bundleFixture(name: string): Promise<string> {
  mkdirSync(buildDir, { recursive: true });
  const outfile = join(buildDir, `${basename(name, '.ts')}-${randomBytes(3).toString('hex')}.mjs`);
  // esbuild's API runs a service child process that outlives the build; stop it, so the test file
  // leaves no child process behind (the next build starts a new one).
  await build({
    entryPoints: [join(repo, 'test/fixtures', name)],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    keepNames: true,
    sourcemap: 'inline',
    outfile,
    alias: {
      '@operon/sdk': join(repo, 'packages/sdk/src/index.ts'),
      '@operon/runtime': join(repo, 'packages/runtime/src/index.ts'),
    },
    packages: 'external',
    logLevel: 'error',
  }).finally(stop);
  return outfile;
}

export interface ChildApp {
  readonly process: ChildProcess;
  /** Everything the child printed so far, stdout and stderr. */
  output(): string;
  /** Resolves with the first output line matching `pattern`. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Resolves with the exit code, or the signal that ended the child. */
  exited: Promise<number | NodeJS.Signals>;
  kill(signal?: NodeJS.Signals): Promise<number | NodeJS.Signals>;
}

export function spawnApp(bundle: string, env: Record<string, string>): ChildApp {
  const child = spawn(process.execPath, ['--enable-source-maps', bundle], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  const listeners = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    text += chunk.toString();
    for (const listener of listeners) listener();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | NodeJS.Signals>((resolve) =>
    child.once('exit', (code, signal) => {
      for (const listener of listeners) listener();
      resolve(signal ?? code ?? -1);
    }),
  );
  const waitForLine = (pattern: RegExp, timeoutMs = 30_000) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const line = text.split('\n').find((l) => pattern.test(l));
        if (line !== undefined) {
          done();
          resolve(line);
        } else if (child.exitCode !== null || child.signalCode !== null) {
          done();
          reject(new Error(`child exited (${child.exitCode ?? child.signalCode}) before printing ${pattern}; output:\n${text}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${pattern}; output:\n${text}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        listeners.delete(check);
      };
      listeners.add(check);
      check();
    });
  return {
    process: child,
    output: () => text,
    waitForLine,
    exited,
    kill: (signal = 'SIGKILL') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
