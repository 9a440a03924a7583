// Builds the dashboard (packages/runtime/dashboard/src, Preact + TypeScript) into static files the
// runtime serves at /operon/dashboard: packages/runtime/dist/dashboard/{index.html, assets/main.js,
// assets/main.css}. Everything is bundled: the page loads nothing from any other server.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const source = fileURLToPath(new URL('../packages/runtime/dashboard/src/', import.meta.url));
const out = fileURLToPath(new URL('../packages/runtime/dist/dashboard/', import.meta.url));

rmSync(out, { recursive: true, force: true });
mkdirSync(`${out}assets`, { recursive: true });
await build({
  entryPoints: [`${source}main.tsx`, `${source}main.css`],
  outdir: `${out}assets`,
  entryNames: '[name]',
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['es2022'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  legalComments: 'none',
  logLevel: 'warning',
});
copyFileSync(`${source}index.html`, `${out}index.html`);
