/**
 * Whether the embedded Postgres of an app is already running before a command starts it. A command
 * that found it running (another `operon start` is serving, or a killed one left it up) must not
 * stop it when it ends; the runtime then merely adopts the server.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { OperonConfig } from '@operon/runtime';

export function embeddedPostgresRunning(config: OperonConfig): boolean {
  if (!config.database.embedded) return false;
  let pid: number;
  try {
    // Postgres's lock file: the first line is the postmaster's pid.
    pid = Number(readFileSync(join(config.appDir, '.operon', 'pgdata', 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {
    return false;
  }
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to another user (the server runs as `postgres` under root).
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
