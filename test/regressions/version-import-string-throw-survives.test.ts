/**
 * Regression: `operon start` drops Node's second report (an unhandled rejection) of the error a
 * version's CommonJS dependency threw as it was imported, by the identity of the error the import
 * rejected with. A dependency that throws a value that is not an object (a string, a number) could
 * not be remembered by identity: its second report was not matched, and the listener ended the
 * process as for any unhandled rejection.
 *
 * Expected: the second report of such a value is dropped too; the process lives on (its load is
 * tried again later).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, expect, it } from 'vitest';

const app = mkdtempSync(join(tmpdir(), 'operon-strthrow-'));
afterAll(() => rmSync(app, { recursive: true, force: true }));

const dist = (path: string) => pathToFileURL(resolve(__dirname, '../../packages', path)).href;

it("a version whose CommonJS dependency throws a string as it loads does not end operon start's process", { timeout: 30_000 }, () => {
  const pkg = join(app, 'node_modules', 'throws-string');
  mkdirSync(pkg, { recursive: true });
  writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'throws-string', main: 'index.js' }));
  writeFileSync(join(pkg, 'index.js'), `throw 'throws-string cannot start';\n`);
  // operon start's own listener and version loader, in a process of their own (Node's loader as it is).
  const script = `
    import { surviveFloatingQueries } from ${JSON.stringify(dist('cli/dist/app/floating-rejections.js'))};
    import { importVersion } from ${JSON.stringify(dist('runtime/dist/versions/version-loader.js'))};
    import { versionOf } from ${JSON.stringify(dist('runtime/dist/versions/bundle-version.js'))};
    const quiet = () => {};
    surviveFloatingQueries({ debug: quiet, info: quiet, warn: quiet, error: quiet });
    const bundle = Buffer.from("import 'throws-string';\\nexport class Nothing {}\\n");
    try {
      await importVersion({ version: versionOf(bundle), bundle, sourceMap: null }, ${JSON.stringify(join(app, '.operon', 'versions'))});
    } catch (error) {
      console.log('load failed: ' + error.message);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    console.log('still alive');
  `;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: app, encoding: 'utf8', timeout: 20_000 });
  expect(child.stdout).toContain('load failed: ');
  expect(child.stdout).toContain('throws-string cannot start');
  // Before, the second report ended the process: no 'still alive', exit code 1.
  expect({ status: child.status, alive: child.stdout.includes('still alive'), stderr: child.stderr }).toEqual({ status: 0, alive: true, stderr: '' });
});
