/**
 * The knex, kysely and drizzle templates, as `operon init -t <name>` makes them: copied and named
 * by the CLI's own scaffolding code, bundled by `operon build`'s bundler, and then their own
 * `src/operations.test.ts` run here, unchanged, on the suite's Postgres (the copied config gets
 * the server's address, as a user pointing the app at their own server would write it). The
 * templates type-check with the rest of the tests (test/tsconfig.json includes them).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stop as stopEsbuild } from 'esbuild';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '@operon/runtime';
import { bundleApp } from '../../packages/cli/src/app/bundle-app.js';
import { copyTemplate, personalize } from '../../packages/cli/src/scaffold/copy-template.js';
import { uniqueName } from '../helpers/test-databases.js';

const TEMPLATES = fileURLToPath(new URL('../../templates/', import.meta.url));
const home = process.cwd();
const parent = mkdtempSync(join(tmpdir(), 'operon-orm-templates-'));
afterAll(async () => {
  process.chdir(home);
  // The bundler's service process, which esbuild keeps for the next build.
  await stopEsbuild();
  rmSync(parent, { recursive: true, force: true });
});

/** The template copied as `operon init` copies it, with the config pointed at the suite's server. */
function scaffold(template: string): string {
  const server = inject('postgres');
  const appName = uniqueName(`tpl_${template}`);
  const dir = join(parent, appName);
  copyTemplate(join(TEMPLATES, template), dir);
  personalize(dir, appName);
  const configPath = join(dir, 'operon-config.yaml');
  const connection = [
    `  hostname: ${server.host}`,
    `  port: ${server.port}`,
    `  username: ${server.user}`,
    `  password: ${JSON.stringify(server.password)}`,
    ...(server.direct ? ['  pooler: transaction'] : []),
  ];
  writeFileSync(configPath, readFileSync(configPath, 'utf8').replace(/^database:\n/m, `database:\n${connection.join('\n')}\n`));
  return dir;
}

for (const template of ['knex', 'kysely', 'drizzle']) {
  describe(`the ${template} template`, async () => {
    const dir = scaffold(template);
    // The template's tests open 'operon-config.yaml' in the folder they run in.
    beforeAll(() => process.chdir(dir));
    afterAll(() => process.chdir(home));

    it(`names database.client ${template} in its config, and builds`, async () => {
      const config = loadConfig(join(dir, 'operon-config.yaml'));
      expect(config.database.client).toBe(template);
      const built = await bundleApp(config);
      expect(built.warnings).toEqual([]);
      expect(built.bytes).toBeGreaterThan(0);
    });

    // Its own tests, registered inside this describe (their hooks run with the folder above as cwd).
    await import(`../../templates/${template}/src/operations.test.ts`);
  });
}
