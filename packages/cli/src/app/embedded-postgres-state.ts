/**
 * Whether the embedded Postgres of an app is already running before a command starts it. A command
 * that found it running (another `operon start` is serving, or a killed one left it up) must not
 * stop it when it ends; the runtime then merely adopts the server.
 */
import { join } from 'node:path';
import { embeddedPostgresRunning as serverRunning, type OperonConfig } from '@operon/runtime';

export function embeddedPostgresRunning(config: OperonConfig): boolean {
  if (!config.database.embedded) return false;
  // The lock file alone is not enough: after a reboot its pid may name some other process.
  return serverRunning(join(config.appDir, '.operon', 'pgdata'));
}
