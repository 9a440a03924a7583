import { fileURLToPath } from 'node:url';
import { transform } from 'esbuild';
import { defineConfig, type Plugin } from 'vitest/config';

const src = (pkg: string) => fileURLToPath(new URL(`./packages/${pkg}/src/index.ts`, import.meta.url));

/**
 * Compiles TypeScript the way `operon build` does: keepNames on, since Operon records functions as
 * `Class.method` and esbuild renames a class that refers to itself (vite's own transform forces
 * keepNames off). Files named `*.legacy-decorators.ts` compile with `experimentalDecorators`.
 */
function operonTypeScript(): Plugin {
  return {
    name: 'operon-typescript',
    enforce: 'pre',
    async transform(code, id) {
      if (!id.endsWith('.ts') || id.includes('/node_modules/')) return undefined;
      const result = await transform(code, {
        loader: 'ts',
        format: 'esm',
        target: 'node20',
        keepNames: true,
        sourcemap: true,
        sourcefile: id,
        tsconfigRaw: { compilerOptions: { experimentalDecorators: id.endsWith('.legacy-decorators.ts') } },
      });
      return { code: result.code, map: result.map };
    },
  };
}

/**
 * `node scripts/test-compat.mjs` sets OPERON_TEST_LEGS to its legs ({ name: { env, files } }): each
 * becomes a project of its files with its own Postgres (global-setup reads the leg's env), so one
 * run holds every leg and its two workers go on to the next leg's files without a run's start and
 * end in between.
 */
interface CompatLeg {
  readonly env: Record<string, string>;
  readonly files: string[];
}
const compatLegs = process.env.OPERON_TEST_LEGS ? (JSON.parse(process.env.OPERON_TEST_LEGS) as Record<string, CompatLeg>) : undefined;

export default defineConfig({
  plugins: [operonTypeScript()],
  esbuild: false,
  resolve: {
    // Tests run on the sources; the CLI's end-to-end tests run the built packages as a user would.
    alias: { '@operon/sdk': src('sdk'), '@operon/runtime': src('runtime') },
  },
  test: {
    // Under compat legs each leg's project names its own files (a project's include adds to this one).
    include: compatLegs ? [] : ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    // Fails a file that leaves a runtime, pool, client, server or child process open.
    setupFiles: ['test/helpers/leak-check.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Two cores: more workers only fight over them and over the one Postgres.
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    projects: compatLegs && Object.entries(compatLegs).map(([name, leg]) => ({ extends: true, test: { name, env: leg.env, include: leg.files } })),
  },
});
