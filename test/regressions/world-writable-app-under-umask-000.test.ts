/**
 * Regression: under `umask 000` (some container images and CI runners) `operon init` made the app
 * folder, src/ and migrations/ mode 0777, and `operon build` wrote the bundle `operon start` runs
 * as 0666: any local user could change the code the app runs, or its migrations. The built CLI now
 * writes nothing that others may write to, whatever the umask; under the usual umask (022) the
 * modes are as before.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_MAIN, assertCliBuilt, cleanEnv, run } from '../cli/cli-process.js';

let dir: string;
beforeAll(() => {
  assertCliBuilt();
  dir = mkdtempSync(join(tmpdir(), 'operon-umask-'));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** `operon <args>` in a shell with `umask <umask>`. */
const operonWithUmask = (umask: string, args: string[], cwd: string) =>
  run('/bin/sh', ['-c', `umask ${umask} && exec "$0" "$@"`, process.execPath, CLI_MAIN, ...args], { cwd, env: cleanEnv() });

/** Every path under `root` (and root) with its permission bits. */
function modes(root: string): Record<string, string> {
  const found: Record<string, string> = { '.': (statSync(root).mode & 0o777).toString(8) };
  const walk = (rel: string) => {
    for (const entry of readdirSync(join(root, rel), { withFileTypes: true })) {
      const path = rel === '' ? entry.name : `${rel}/${entry.name}`;
      found[path] = (statSync(join(root, path)).mode & 0o777).toString(8);
      if (entry.isDirectory()) walk(path);
    }
  };
  walk('');
  return found;
}

describe('operon init and operon build', () => {
  it('under umask 000 create nothing other users may write to', async () => {
    const init = await operonWithUmask('000', ['init', 'open-app'], dir);
    expect(init.code, init.stderr).toBe(0);
    const app = join(dir, 'open-app');
    const build = await operonWithUmask('000', ['build'], app);
    expect(build.code, build.stderr).toBe(0);
    const found = modes(app);
    expect(found['dist/operations.js']).toBeDefined();
    expect(Object.entries(found).filter(([, mode]) => (parseInt(mode, 8) & 0o002) !== 0)).toEqual([]);
    expect(found['dist/operations.js']).toBe('664');
    expect(found['src']).toBe('775');
  });

  it('under umask 022 give the usual modes', async () => {
    expect((await operonWithUmask('022', ['init', 'usual-app'], dir)).code).toBe(0);
    const app = join(dir, 'usual-app');
    expect((await operonWithUmask('022', ['build'], app)).code).toBe(0);
    const found = modes(app);
    expect(new Set(Object.entries(found).map(([path, mode]) => `${statSync(join(app, path)).isDirectory() ? 'dir' : 'file'} ${mode}`))).toEqual(
      new Set(['dir 755', 'file 644']),
    );
  });
});
