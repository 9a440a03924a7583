/**
 * A folder to run the built `operon` CLI in against a test config's databases: it holds only an
 * operon-config.yaml naming them on the test server, as a user's app folder would.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import type { OperonConfig } from '@operon/runtime';

export interface CliFolder {
  readonly dir: string;
  remove(): void;
}

export function cliFolderFor(config: OperonConfig, prefix: string): CliFolder {
  const server = inject('postgres');
  const dir = mkdtempSync(join(tmpdir(), `operon-${prefix}-`));
  const { database } = config;
  writeFileSync(
    join(dir, 'operon-config.yaml'),
    [
      'database:',
      `  hostname: ${server.host}`,
      `  port: ${server.port}`,
      `  username: ${server.user}`,
      `  password: ${JSON.stringify(server.password)}`,
      `  user_database: ${database.user_database}`,
      `  system_database: ${database.system_database}`,
      'telemetry:',
      '  logs: { logLevel: warn }',
      '',
    ].join('\n'),
  );
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
