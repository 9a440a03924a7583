// `pnpm chaos [--duration SECONDS] [--seed N] [--clients N] [--runtimes N] [--keep] [--no-build]`: builds the
// packages (the harness drives the built `operon` CLI, as a user would), bundles the TypeScript
// harness with esbuild the way test/helpers/child-app.ts bundles fixtures, and runs it with node.
// Its exit code is the harness's; its last line of output is `CHAOS-JSON {…}`.
// `pnpm chaos --soak` runs the fleet tests the suite keeps small at their full size instead: the
// queue fleet (2,000 workflows per queue over 4 processes, 1,000 partition keys) and the schedule
// fleet for 60 s.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const args = process.argv.slice(2).filter((arg) => arg !== '--no-build');

if (!process.argv.includes('--no-build')) {
  // The root package.json's own build script, with the workspace's binaries (tsc) on the PATH.
  const { build: buildScript } = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')).scripts;
  const env = { ...process.env, PATH: `${join(repo, 'node_modules', '.bin')}${delimiter}${process.env.PATH}` };
  const result = spawnSync(buildScript, { cwd: repo, env, shell: true, stdio: 'inherit' });
  if (result.status !== 0) {
    console.error(`chaos: could not build the packages (exit code ${result.status ?? result.signal})`);
    process.exit(1);
  }
}

if (args.includes('--soak')) {
  const soak = spawn(process.execPath, [join(repo, 'node_modules/vitest/vitest.mjs'), 'run', '--testTimeout', '600000', 'test/queues/queue-fleet.test.ts', 'test/schedules/fleet-ticks.test.ts'], {
    cwd: repo,
    stdio: 'inherit',
    env: { ...process.env, OPERON_QUEUE_FLEET_FULL: '1', OPERON_SCHEDULE_SOAK_SECONDS: '60' },
  });
  soak.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
} else {
  await runHarness();
}

async function runHarness() {
  // Inside packages/runtime, so the bundle resolves the runtime's own dependencies (pg, yaml, …).
  const buildDir = join(repo, 'packages/runtime/.test-build');
  mkdirSync(buildDir, { recursive: true });
  const outfile = join(buildDir, `chaos-${process.pid}.mjs`);
  await build({
    entryPoints: [join(repo, 'test/chaos/main.ts')],
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
  });

  const child = spawn(process.execPath, ['--enable-source-maps', outfile, ...args], { cwd: repo, stdio: 'inherit' });
  // Ctrl-C reaches the harness too (same process group); a SIGTERM sent to this script alone is passed on.
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => child.kill('SIGTERM'));
  child.on('exit', (code, signal) => {
    rmSync(outfile, { force: true });
    process.exit(code ?? (signal ? 1 : 0));
  });
}
