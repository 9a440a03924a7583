/**
 * Where this CLI runs from, which decides two things for `operon init`: where the templates are,
 * and what a new app depends on. Run from this repository's `packages/cli`, it uses the
 * repository's `templates/` and links the new app to the repository's packages (`file:`), so an
 * app scaffolded during development runs the code being developed. Installed from the registry,
 * it uses the templates packed into it (`scripts/copy-templates.mjs`) and the published versions.
 */
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The CLI package's folder (this file is `dist/scaffold/cli-home.js`). */
const CLI_DIR = fileURLToPath(new URL('../../', import.meta.url));

export type OperonPackage = 'sdk' | 'runtime' | 'cli';

export function cliVersion(): string {
  return (JSON.parse(readFileSync(join(CLI_DIR, 'package.json'), 'utf8')) as { version: string }).version;
}

/** The repository root when this CLI is the repository's own `packages/cli`; undefined when installed. */
export function workspaceRoot(): string | undefined {
  const root = resolve(CLI_DIR, '..', '..');
  if (!existsSync(join(root, 'pnpm-workspace.yaml')) || !existsSync(join(root, 'templates'))) return undefined;
  try {
    return realpathSync(join(root, 'packages', 'cli')) === realpathSync(CLI_DIR) ? root : undefined;
  } catch {
    return undefined;
  }
}

export function templatesDir(): string {
  const root = workspaceRoot();
  return root === undefined ? join(CLI_DIR, 'templates') : join(root, 'templates');
}

/** The version range (or `file:` link) a new app's package.json gives `@operon/<name>`. */
export function dependencySpec(name: OperonPackage): string {
  const root = workspaceRoot();
  return root === undefined ? `^${cliVersion()}` : `file:${join(root, 'packages', name)}`;
}
