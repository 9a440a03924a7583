// Bundles the benchmark's TypeScript (orchestrator and one worker per framework) into dist/.
// Packages stay external: the workers load the built @operon packages and DBOS from node_modules,
// as a user's app would. keepNames, because Operon records functions as `Class.method`.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));

await build({
  absWorkingDir: here,
  entryPoints: ['src/main.ts', 'src/operon-worker.ts', 'src/dbos-worker.ts', 'src/retention.ts', 'src/management.ts', 'src/value-codecs.ts', 'src/version-isolation.ts', 'src/version-check.ts', 'src/queues.ts', 'src/testing-isolation.ts'],
  outdir: 'dist',
  bundle: true,
  packages: 'external',
  platform: 'node',
  format: 'esm',
  target: 'node20',
  keepNames: true,
  sourcemap: true,
  logLevel: 'warning',
});
