// `pnpm run example`: builds the packages, scaffolds the hello template into examples/hello (once;
// the folder is git-ignored), installs it, builds and migrates it, and serves it with `operon start`
// on http://127.0.0.1:3000 and the embedded Postgres. Ctrl-C stops it.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const app = join(root, 'examples', 'hello');
const cli = join(root, 'packages', 'cli', 'dist', 'main.js');
const url = 'http://127.0.0.1:3000/greeting/operon';

function step(title, command, args, options = {}) {
  console.log(`\n> ${title}`);
  const result = spawnSync(command, args, { stdio: 'inherit', ...options });
  if (result.status !== 0) {
    console.error(`example: ${title} failed (${result.error?.message ?? `exit code ${result.status}`})`);
    process.exit(result.status || 1);
  }
}

// The root package.json's own build script, with the workspace's binaries (tsc) on the PATH.
const { build } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).scripts;
const env = { ...process.env, PATH: `${join(root, 'node_modules', '.bin')}${delimiter}${process.env.PATH}` };
step('build the Operon packages', build, [], { cwd: root, env, shell: true });
if (!existsSync(app)) step('operon init examples/hello', process.execPath, [cli, 'init', join('examples', 'hello')], { cwd: root });
if (!existsSync(join(app, 'node_modules'))) {
  step('npm install (in examples/hello)', process.platform === 'win32' ? 'npm.cmd' : 'npm', ['install', '--no-audit', '--no-fund'], { cwd: app });
}
step('operon build', process.execPath, [cli, 'build'], { cwd: app });
step('operon migrate', process.execPath, [cli, 'migrate'], { cwd: app });

console.log('\n> operon start (Ctrl-C to stop)');
const server = spawn(process.execPath, [cli, 'start'], { cwd: app, stdio: ['inherit', 'pipe', 'inherit'] });
server.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  if (chunk.toString().includes('operon: serving on')) {
    console.log(`\nThe example app is serving. Try it from another terminal:\n\n  curl ${url}\n`);
  }
});
// Ctrl-C reaches the server itself (same process group): wait for it to shut down. A SIGTERM sent
// to this script alone is passed on.
process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => server.kill('SIGTERM'));
server.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
