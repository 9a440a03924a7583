/**
 * What `operon init` and `operon build` create is never writable by other users, whatever the
 * umask: under `umask 000` (some container images and CI runners) the bundle `operon start` loads,
 * the config whose `migrate` commands `operon migrate` runs, and the folders holding them would be
 * mode 0666/0777, and any local user could put code in them. Group and read bits follow the umask.
 */
import { chmodSync, lstatSync } from 'node:fs';

/** Clears the write bit for others on `path` (not following a link), if it is set. */
export function closeToOtherWriters(path: string): void {
  const stats = lstatSync(path);
  if (stats.isSymbolicLink() || (stats.mode & 0o002) === 0) return;
  chmodSync(path, stats.mode & 0o7775);
}
