/**
 * `pnpm bench:load-retry [--versions N] [--functions F] [--files M]`: what it costs to make a
 * version's failed load really retryable, two ways, against the plain import that cannot retry
 * (Node keeps a failed module for the life of the process). Each way runs in a process of its own
 * (a resolve hook, once registered, sees every later import of the process):
 * - plain: each version's bundle imported at a URL of its own (the peer);
 * - hooks: the runtime's `importFresh` (a resolve hook gives a failed attempt's files new URLs);
 * - worker: each bundle imported first in a worker thread, then, if that loaded, in the process.
 * A version here is a bundle of F functions that imports `@operon/sdk` (already loaded, shared) and
 * a file of its own. Also: the hook's one-off registration, and M small app files imported after
 * it (every import of the process then passes through the hook) against the same without.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import '@operon/sdk';
import { importFresh } from '@operon/runtime';
import { percentile, round } from './stats.js';
import { parseIntegerFlags, progressLog } from './script-cli.js';

const log = progressLog('load-retry');
type Mode = 'plain' | 'hooks' | 'worker';

interface ModeFigures {
  readonly mode: Mode;
  /** The first import of the process (a one-line file): for `hooks`, with the hook's registration. */
  readonly firstImportMs: number;
  readonly loadP50Ms: number;
  readonly loadsMs: number[];
  /** M small app files imported one by one after the versions. */
  readonly filesMs: number;
}

function writeFixtures(dir: string, versions: number, functions: number, files: number): void {
  writeFileSync(join(dir, 'first.mjs'), 'export const first = 1;\n');
  for (let v = 0; v < versions; v++) {
    writeFileSync(join(dir, `dep-${v}.mjs`), `export const dep = ${v};\n`);
    const body = Array.from({ length: functions }, (_, f) => `export function f${f}(x) { return x * ${f} + dep; }`).join('\n');
    writeFileSync(join(dir, `version-${v}.mjs`), `import { Workflow } from '@operon/sdk';\nimport { dep } from './dep-${v}.mjs';\nexport const marker = typeof Workflow;\n${body}\n`);
  }
  mkdirSync(join(dir, 'app'), { recursive: true });
  for (let m = 0; m < files; m++) writeFileSync(join(dir, 'app', `file-${m}.mjs`), `export const value = ${m};\n`);
}

/** Imports `url` in a worker thread first: resolves if it loaded there, rejects with its error if not. */
function importInWorker(url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(`import(${JSON.stringify(url)}).then(() => 'ok', (e) => String(e)).then((r) => require('node:worker_threads').parentPort.postMessage(r));`, { eval: true });
    worker.once('message', (answer: string) => {
      void worker.terminate();
      if (answer === 'ok') resolve();
      else reject(new Error(answer));
    });
    worker.once('error', reject);
  });
}

async function runMode(mode: Mode, dir: string, versions: number, files: number): Promise<ModeFigures> {
  const url = (name: string) => pathToFileURL(join(dir, name)).href;
  let started = performance.now();
  const fresh = (at: string) => importFresh(at, join(dir, `hooks-${process.pid}.mjs`), (file, contents) => writeFileSync(file, contents));
  if (mode === 'hooks') await fresh(url('first.mjs'));
  else await import(`${url('first.mjs')}?load=first`);
  const firstImportMs = performance.now() - started;
  const loadsMs: number[] = [];
  for (let v = 0; v < versions; v++) {
    started = performance.now();
    const bundle = url(`version-${v}.mjs`);
    if (mode === 'hooks') await fresh(bundle);
    else if (mode === 'worker') {
      await importInWorker(`${bundle}?load=${v}`);
      await import(`${bundle}?load=${v}`);
    } else await import(`${bundle}?load=${v}`);
    loadsMs.push(performance.now() - started);
  }
  started = performance.now();
  for (let m = 0; m < files; m++) await import(url(`app/file-${m}.mjs`));
  const filesMs = performance.now() - started;
  return { mode, firstImportMs, loadP50Ms: percentile(loadsMs, 50), loadsMs, filesMs };
}

async function main(): Promise<void> {
  const [, , child, childDir] = process.argv;
  if (child === '--mode') {
    const versions = Number(process.argv[5]);
    const files = Number(process.argv[6]);
    process.stdout.write(JSON.stringify(await runMode(childDir as Mode, process.argv[4]!, versions, files)));
    return;
  }
  const { versions, functions, files } = parseIntegerFlags(
    process.argv.slice(2),
    { versions: 5, functions: 2_000, files: 200 },
    'usage: bench:load-retry [--versions N] [--functions F] [--files M] (positive integers)',
  );
  // Inside the bench package, so the versions' import of @operon/sdk resolves (as a version's does from the app folder).
  const dir = mkdtempSync(join(fileURLToPath(new URL('..', import.meta.url)), '.load-retry-'));
  try {
    writeFixtures(dir, versions, functions, files);
    const figures: ModeFigures[] = [];
    // Twice each, interleaved, keeping the better run: the machine is shared.
    for (const round of [1, 2]) {
      for (const mode of ['plain', 'hooks', 'worker'] as const) {
        log(`round ${round}: ${mode}`);
        const ran = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--mode', mode, dir, String(versions), String(files)], { encoding: 'utf8' });
        if (ran.status !== 0) throw new Error(`${mode} failed: ${ran.stderr}`);
        const result = JSON.parse(ran.stdout) as ModeFigures;
        const before = figures.findIndex((f) => f.mode === mode);
        if (before < 0) figures.push(result);
        else if (result.loadP50Ms < figures[before]!.loadP50Ms) figures[before] = result;
      }
    }
    const plain = figures.find((f) => f.mode === 'plain')!;
    console.log(`versions: ${versions} of ${functions} functions each; ${files} app files imported after them`);
    console.log('| way | first import | load p50 | load p50 / plain | app files | app files / plain |');
    console.log('|---|---|---|---|---|---|');
    for (const f of figures) {
      console.log(`| ${f.mode} | ${round(f.firstImportMs, 1)} ms | ${round(f.loadP50Ms, 1)} ms | ${round(f.loadP50Ms / plain.loadP50Ms, 2)}x | ${round(f.filesMs, 1)} ms | ${round(f.filesMs / plain.filesMs, 2)}x |`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
