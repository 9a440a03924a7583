/**
 * Copies a template folder and fills in the new app's name. Template files whose names start with
 * `_` are written with a `.` instead (`_gitignore` → `.gitignore`): npm leaves dotfiles out of the
 * packages it publishes, and the templates travel inside `@operon/cli`.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { closeToOtherWriters } from '../app/file-modes.js';
import { databaseName } from './app-name.js';
import { dependencySpec, type OperonPackage } from './cli-home.js';

/** Never copied: what running a template in place would leave behind. */
const SKIPPED = new Set(['node_modules', 'dist', '.operon', 'package-lock.json']);

export function copyTemplate(templateDir: string, targetDir: string): void {
  mkdirSync(targetDir, { recursive: true });
  closeToOtherWriters(targetDir);
  for (const entry of readdirSync(templateDir, { withFileTypes: true })) {
    if (SKIPPED.has(entry.name)) continue;
    const from = join(templateDir, entry.name);
    const to = join(targetDir, entry.name.startsWith('_') ? `.${entry.name.slice(1)}` : entry.name);
    if (entry.isDirectory()) {
      copyTemplate(from, to);
    } else if (entry.isFile()) {
      // Written, not copied: a copy keeps the template's mode, whatever it is where the CLI is installed.
      writeFileSync(to, readFileSync(from), { flag: 'wx' });
      closeToOtherWriters(to);
    }
  }
}

/** Gives the copied app its name: package.json, the database names, the README's title. */
export function personalize(appDir: string, appName: string): void {
  editFile(join(appDir, 'package.json'), (text) => {
    const manifest = JSON.parse(text) as Record<string, unknown>;
    manifest['name'] = appName;
    for (const group of ['dependencies', 'devDependencies'] as const) {
      const deps = manifest[group] as Record<string, string> | undefined;
      for (const dep of Object.keys(deps ?? {})) {
        if (dep.startsWith('@operon/')) deps![dep] = dependencySpec(dep.slice('@operon/'.length) as OperonPackage);
      }
    }
    return `${JSON.stringify(manifest, null, 2)}\n`;
  });
  const db = databaseName(appName);
  editFile(join(appDir, 'operon-config.yaml'), (text) =>
    text
      .replace(/^(\s*user_database:[ \t]*)\S+/m, `$1${db}`)
      .replace(/^(\s*system_database:[ \t]*)\S+/m, `$1${db}_operon_sys`),
  );
  editFile(join(appDir, 'README.md'), (text) => text.replace(/^# .*/, `# ${appName}`));
}

function editFile(path: string, edit: (text: string) => string): void {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return; // a template may do without this file
  }
  writeFileSync(path, edit(text));
}
