/**
 * Regression: an index build of a system migration (12: CREATE INDEX CONCURRENTLY) ran on a
 * connection of its own while another connection's transaction held the migration lock. When the
 * start's connections were cut, the server let the lock go at once but went on with the build, whose
 * client was gone; a second start then took the lock and ran its own DROP INDEX / CREATE INDEX
 * beside that build: its statement waited on the table with a snapshot the build waits on, the
 * server broke the deadlock by killing one of the two, and the build was begun again (or the start
 * failed). Now a build is claimed for a lease, renewed before each statement, and the next start
 * waits, by polling, for a build still running before it builds what is missing.
 */
import pg from 'pg';
import { describe, expect, inject, it } from 'vitest';
import { migrateSchema } from '../../packages/runtime/src/system-db/schema-migrator.js';
import { SYSTEM_MIGRATIONS } from '../../packages/runtime/src/system-db/migrations.generated.js';
import { createPool, ensureDatabaseExists } from '../../packages/runtime/src/database/pools.js';
import { CuttableProxy } from '../helpers/cuttable-proxy.js';
import { query, uniqueName } from '../helpers/test-databases.js';

const server = inject('postgres');
const outside = SYSTEM_MIGRATIONS.findIndex((m) => m.outsideTransaction);
const FIRST_INDEX = 'workflow_status_queue_created';

/** The index builds under way in `database`: the backend's pid and the index's oid. */
function builds(database: string): Promise<{ pid: number; index: number }[]> {
  return query(
    database,
    `SELECT pid, index_relid::int AS index FROM pg_stat_progress_create_index
      WHERE datid = (SELECT oid FROM pg_database WHERE datname = $1)`,
    [database],
  );
}

/** Sessions of `database` waiting for a heavyweight lock, other than `except`. */
async function lockWaiters(database: string, except: number): Promise<string[]> {
  const rows = await query<{ query: string }>(
    database,
    `SELECT query FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock' AND pid <> $2`,
    [database, except],
  );
  return rows.map((row) => row.query);
}

describe('a migrating start cut off in the middle of an index build', () => {
  it('leaves the build to the server; the next start waits for it, never builds beside it, and finishes the migration', async () => {
    expect(outside).toBeGreaterThan(0);
    const database = uniqueName('cutbuild');
    await ensureDatabaseExists({ ...server, ssl: 'disable', connectionTimeoutMillis: 5_000 }, database);
    const pool = new pg.Pool({ ...server, database, max: 1 });
    const proxy = new CuttableProxy({ host: server.host, port: server.port });
    // The runtime's own kind of pool: a connection lost while checked out fails its queries, nothing else.
    const cutPool = createPool({ ...server, host: '127.0.0.1', port: await proxy.listen(), ssl: 'disable', connectionTimeoutMillis: 5_000 }, database, 1);
    // A running workflow's transaction holds the table: a build waits for it to end.
    const running = new pg.Client({ ...server, database });
    try {
      await migrateSchema(pool, database, SYSTEM_MIGRATIONS.slice(0, outside));
      await query(database, `INSERT INTO operon.workflow_status (workflow_uuid, status, workflow_name, executor_id, inputs, created_at, updated_at)
        VALUES ('w', 'PENDING', 'W.w', 'e', '[]', 1, 1)`);
      await running.connect();
      await running.query('BEGIN');
      await running.query("UPDATE operon.workflow_status SET updated_at = 2 WHERE workflow_uuid = 'w'");

      const first = migrateSchema(cutPool, database, SYSTEM_MIGRATIONS, { buildLeaseSeconds: 1 }).then(
        () => 'migrated',
        (error: Error) => error,
      );
      let orphan: { pid: number; index: number } | undefined;
      // Once its index is in the catalog (invalid until the build ends).
      while (!orphan?.index) [orphan] = await builds(database);
      proxy.cutAll();
      expect(await first).toBeInstanceOf(Error);
      // The server goes on with the build whose client is gone.
      expect(await builds(database)).toEqual([orphan]);

      let second: number[] | Error | undefined;
      const migrating = migrateSchema(pool, database, SYSTEM_MIGRATIONS, { buildLeaseSeconds: 1 }).then(
        (applied) => (second = applied),
        (error: Error) => (second = error),
      );
      // Past the first start's lease: the second has taken the build over and waits for the one running.
      const until = Date.now() + 2_500;
      while (Date.now() < until) {
        expect(await builds(database)).toEqual([orphan]);
        // Polling, not waiting on the table: a waiting statement's snapshot would hold the build up for ever.
        expect(await lockWaiters(database, orphan.pid)).toEqual([]);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(second).toBeUndefined();

      await running.query('COMMIT');
      const releasedAt = performance.now();
      await migrating;
      console.log(`the second start finished the migration ${Math.round(performance.now() - releasedAt)} ms after the table was free (the orphaned build's end, then its own build)`);
      expect(second).toEqual(SYSTEM_MIGRATIONS.slice(outside).map((m) => m.version));
      const indexes = await query<{ name: string; oid: number; valid: boolean }>(
        database,
        `SELECT c.relname AS name, c.oid::int AS oid, i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
          WHERE c.relname IN ('workflow_status_queue_created', 'workflow_status_version_created') ORDER BY 1`,
      );
      // The orphan's build finished and was kept (not killed and begun again); the second built the rest.
      expect(indexes).toEqual([
        { name: FIRST_INDEX, oid: orphan.index, valid: true },
        { name: 'workflow_status_version_created', oid: expect.any(Number), valid: true },
      ]);
      const versions = await query<{ version: number }>(database, 'SELECT version FROM operon.schema_version ORDER BY 1');
      expect(versions.map((v) => v.version)).toEqual(SYSTEM_MIGRATIONS.map((m) => m.version));
    } finally {
      await running.end().catch(() => undefined);
      await cutPool.end();
      await proxy.close();
      await pool.end();
    }
  }, 30_000);
});
