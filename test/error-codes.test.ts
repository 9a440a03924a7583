/**
 * The error codes of the sources and of docs/errors.md are the same set, checked both ways as
 * fastify's test/internals/errors.test.js does: every code a class declares is documented, and
 * every code the docs name exists, so neither a new error nor a removed one goes unnoticed. The
 * codes are read from the sources (every `static readonly CODE = '…'` under packages/<pkg>/src),
 * not from a list kept here.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as sdk from '@operon/sdk';
import * as runtime from '@operon/runtime';
import * as cli from '../packages/cli/src/errors.js';

const root = new URL('../', import.meta.url).pathname;

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

const files = readdirSync(join(root, 'packages')).flatMap((pkg) => {
  const src = join(root, 'packages', pkg, 'src');
  return statSync(src, { throwIfNoEntry: false })?.isDirectory() ? sources(src) : [];
});

const DECLARATION = /static\s+(?:override\s+)?readonly\s+CODE(?::\s*string)?\s*=\s*'([^']+)'/g;

/** Each code with the file that declares it, relative to the repository. */
const declared = files.flatMap((file) =>
  [...readFileSync(file, 'utf8').matchAll(DECLARATION)].map((m) => ({ code: m[1]!, file: relative(root, file) })),
);
const codes = declared.map((d) => d.code);

const docs = readFileSync(join(root, 'docs/errors.md'), 'utf8');
/** The codes that head a row of the table in docs/errors.md. */
const rows = [...docs.matchAll(/^\|\s*`([A-Z_]+)`\s*\|/gm)].map((m) => m[1]!);

/** The `CODE` of every exported class that extends OperonError. */
function exportedCodes(module: Record<string, unknown>): string[] {
  return Object.values(module).flatMap((value) =>
    typeof value === 'function' && (value === sdk.OperonError || value.prototype instanceof sdk.OperonError)
      ? [(value as typeof sdk.OperonError).CODE]
      : [],
  );
}

describe('error codes', () => {
  it('are unique and of the form OPERON_ERR_<AREA>_<WHAT>', () => {
    expect(codes.length).toBeGreaterThan(10);
    const seen = new Map<string, string>();
    const duplicates = declared.filter(({ code, file }) => seen.has(code) || !seen.set(code, file));
    expect(duplicates).toEqual([]);
    for (const code of codes) expect(code).toMatch(/^OPERON_ERR_[A-Z]+(_[A-Z]+)*$/);
  });

  it('are all seen by the scan: every static CODE in the sources has the form it reads', () => {
    const unread = files.flatMap((file) =>
      readFileSync(file, 'utf8')
        .split('\n')
        .filter((line) => /\bstatic\b.*\bCODE\b/.test(line) && !new RegExp(DECLARATION.source).test(line))
        .map((line) => `${relative(root, file)}: ${line.trim()}`),
    );
    expect(unread).toEqual([]);
    const exported = [...exportedCodes(sdk), ...exportedCodes(runtime), ...exportedCodes(cli)];
    expect(exported.filter((code) => !codes.includes(code))).toEqual([]);
  });

  it('in the sources are each documented by a row of docs/errors.md', () => {
    const undocumented = declared.filter(({ code }) => !rows.includes(code));
    expect(undocumented).toEqual([]);
  });

  it('in docs/errors.md each exist in the sources, one row each', () => {
    expect(rows.length).toBeGreaterThan(10);
    expect(rows.filter((code, i) => rows.indexOf(code) !== i)).toEqual([]);
    const named = new Set([...docs.matchAll(/OPERON_ERR_[A-Z_]*[A-Z]/g)].map((m) => m[0]));
    expect([...named].filter((code) => !codes.includes(code))).toEqual([]);
  });

  it('named anywhere else in docs/ or the README exist in the sources', () => {
    const pages = [join(root, 'README.md'), ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md') && f !== 'errors.md').map((f) => join(root, 'docs', f))];
    const stale = pages.flatMap((page) =>
      [...readFileSync(page, 'utf8').matchAll(/OPERON_ERR_[A-Z_]*[A-Z]/g)]
        .filter((m) => !codes.includes(m[0]))
        .map((m) => `${relative(root, page)}: ${m[0]}`),
    );
    expect(stale).toEqual([]);
  });
});
