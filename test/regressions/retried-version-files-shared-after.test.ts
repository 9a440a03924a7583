/**
 * Regression: after a version's import failed, every later import of any version gave each file
 * that failed attempt had brought in a copy of its own, for ever: two versions loaded after it
 * that import the same package got two instances of it (its module state split in two, its memory
 * twice), where without the failure they share one.
 *
 * Expected: the copy the first later attempt loaded is shared by the attempts after it, as long as
 * that attempt did not fail.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, expect, it } from 'vitest';

const app = mkdtempSync(join(tmpdir(), 'operon-sharedafter-'));
afterAll(() => rmSync(app, { recursive: true, force: true }));

const dist = (path: string) => pathToFileURL(resolve(__dirname, '../../packages', path)).href;

function write(name: string, source: string): void {
  const pkg = join(app, 'node_modules', name);
  mkdirSync(pkg, { recursive: true });
  writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name, type: 'module', main: 'index.js' }));
  writeFileSync(join(pkg, 'index.js'), source);
}

it('two versions loaded after a failed one share the package that failed attempt brought in', { timeout: 30_000 }, () => {
  write('shared-state', `export const instance = Math.random();\n`);
  write('fails-once', `throw new Error('fails-once cannot start');\n`);
  // The versions import the SDK as an app's bundle does, from the app's node_modules.
  mkdirSync(join(app, 'node_modules', '@operon'), { recursive: true });
  symlinkSync(resolve(__dirname, '../../packages/sdk'), join(app, 'node_modules', '@operon', 'sdk'));
  const script = `
    import { importVersion } from ${JSON.stringify(dist('runtime/dist/versions/version-loader.js'))};
    import { versionOf } from ${JSON.stringify(dist('runtime/dist/versions/bundle-version.js'))};
    const dir = ${JSON.stringify(join(app, '.operon', 'versions'))};
    const load = async (source) => {
      const bundle = Buffer.from(source);
      return importVersion({ version: versionOf(bundle), bundle, sourceMap: null }, dir);
    };
    const versionOn = (n) => "import { instance } from 'shared-state';\\nimport { Workflow } from '@operon/sdk';\\n" +
      "export class V" + n + " { static instance = instance; static async run() { return " + n + "; } }\\nWorkflow()(V" + n + ", 'run', Object.getOwnPropertyDescriptor(V" + n + ", 'run'));\\n";
    try {
      await load("import 'shared-state';\\nimport 'fails-once';\\nexport class Broken {}\\n");
    } catch (error) {
      console.log('first failed: ' + error.message);
    }
    const [a] = await load(versionOn(2));
    const [b] = await load(versionOn(3));
    console.log(JSON.stringify({ shared: a.instance === b.instance }));
  `;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: resolve(__dirname, '../../packages/runtime'), encoding: 'utf8', timeout: 20_000 });
  expect(child.stderr).toBe('');
  expect(child.stdout).toMatch(/first failed: .*fails-once cannot start/);
  // Before, each later version had a copy of its own of shared-state.
  expect(child.stdout).toContain('{"shared":true}');
});
