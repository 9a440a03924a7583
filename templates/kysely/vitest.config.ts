import { readFileSync } from 'node:fs';
import { transform } from 'esbuild';
import { defineConfig, type Plugin } from 'vitest/config';

/**
 * Compiles the app's TypeScript the way `operon build` does: with keepNames, because Operon
 * records each operation as `Class.method` and esbuild would otherwise rename a class that refers
 * to itself (vite's own TypeScript transform turns keepNames off), and with the decorator mode of
 * tsconfig.json.
 */
function operonTypeScript(): Plugin {
  const tsconfigRaw = readFileSync(new URL('./tsconfig.json', import.meta.url), 'utf8');
  return {
    name: 'operon-typescript',
    enforce: 'pre',
    async transform(code, id) {
      if (!/\.[cm]?ts$/.test(id) || id.includes('/node_modules/')) return undefined;
      const result = await transform(code, {
        loader: 'ts',
        format: 'esm',
        target: 'node20',
        keepNames: true,
        sourcemap: true,
        sourcefile: id,
        tsconfigRaw,
      });
      return { code: result.code, map: result.map };
    },
  };
}

export default defineConfig({
  plugins: [operonTypeScript()],
  esbuild: false,
  test: {
    include: ['src/**/*.test.ts'],
    // The first run creates the embedded Postgres cluster, which takes a few seconds.
    hookTimeout: 120_000,
    testTimeout: 60_000,
  },
});
