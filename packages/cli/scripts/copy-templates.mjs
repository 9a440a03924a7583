// Copies the repository's templates/ into this package before it is packed (npm/pnpm `prepack`),
// so an installed @operon/cli carries its templates. Inside the repository the CLI reads
// ../../templates directly; this copy is only for the published package.
import { cpSync, existsSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const cliDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(cliDir, '..', '..', 'templates');
const target = join(cliDir, 'templates');
if (!existsSync(source)) {
  console.error(`copy-templates: ${source} not found; run this from the Operon repository`);
  process.exit(1);
}
rmSync(target, { recursive: true, force: true });
const skipped = new Set(['node_modules', 'dist', '.operon', 'package-lock.json']);
cpSync(source, target, { recursive: true, filter: (path) => !skipped.has(path.split(/[\\/]/).pop()) });
console.log(`copy-templates: copied ${source} to ${target}`);
