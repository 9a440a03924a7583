/** Every error code in the sources is unique, well formed and documented in docs/errors.md. */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = new URL('../', import.meta.url).pathname;

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

const codes = ['sdk', 'runtime', 'cli'].flatMap((pkg) =>
  sources(join(root, 'packages', pkg, 'src')).flatMap((file) =>
    [...readFileSync(file, 'utf8').matchAll(/static (?:override )?readonly CODE(?::\s*string)? = '([^']+)'/g)].map((m) => m[1]!),
  ),
);

describe('error codes', () => {
  it('are unique and of the form OPERON_ERR_<AREA>_<WHAT>', () => {
    expect(codes.length).toBeGreaterThan(10);
    expect(new Set(codes).size).toBe(codes.length);
    for (const code of codes) expect(code).toMatch(/^OPERON_ERR_[A-Z]+(_[A-Z]+)*$/);
  });

  it('are each documented in docs/errors.md', () => {
    const docs = readFileSync(join(root, 'docs/errors.md'), 'utf8');
    expect(codes.filter((code) => !docs.includes(`\`${code}\``))).toEqual([]);
  });
});
