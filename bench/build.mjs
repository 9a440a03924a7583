// Bundles the benchmark's TypeScript (orchestrator and one worker per framework) into dist/.
// Packages stay external: the workers load the built @operon packages and DBOS from node_modules,
// as a user's app would. keepNames, because Operon records functions as `Class.method`.
// `node build.mjs --outdir DIR` bundles into DIR (under bench/, so that node_modules resolve), for a
// test that must not rewrite dist/ while another test runs from it.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const outdirFlag = process.argv.indexOf('--outdir');
const outdir = outdirFlag >= 0 ? process.argv[outdirFlag + 1] : 'dist';

await build({
  absWorkingDir: here,
  entryPoints: ['src/main.ts', 'src/operon-worker.ts', 'src/dbos-worker.ts', 'src/retention.ts', 'src/management.ts', 'src/value-codecs.ts', 'src/version-isolation.ts', 'src/version-check.ts', 'src/version-load-retry.ts', 'src/queues.ts', 'src/testing-isolation.ts', 'src/values-w3.ts', 'src/values-w3-worker.ts', 'src/value-codec-hooks.ts', 'src/plain-json-codec.ts'],
  outdir,
  bundle: true,
  packages: 'external',
  platform: 'node',
  format: 'esm',
  target: 'node20',
  keepNames: true,
  sourcemap: true,
  logLevel: 'warning',
});
