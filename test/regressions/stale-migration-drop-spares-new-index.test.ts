/**
 * Regression: a migrating start drops the invalid index a dead build left by its name (DROP
 * INDEX CONCURRENTLY IF EXISTS operon.<name>), a statement no claim can fence once it is sent. A
 * start whose DROP was held up in transit past its build claim's lease (a paused process, a slow
 * network) had it arrive after the next start had taken the claim over, dropped the leftover and
 * built the index again under that same name: the late DROP dropped the new, valid index, and the
 * migration was recorded as applied with its index gone.
 *
 * Expected: a leftover is renamed to a name of its own (in a transaction that checks the claim)
 * before it is dropped, so a late DROP can only ever drop that leftover.
 */
import pg from 'pg';
import { expect, inject, it } from 'vitest';
import { migrateSchema } from '../../packages/runtime/src/system-db/schema-migrator.js';
import { SYSTEM_MIGRATIONS } from '../../packages/runtime/src/system-db/migrations.generated.js';
import { createPool, ensureDatabaseExists } from '../../packages/runtime/src/database/pools.js';
import { CuttableProxy } from '../helpers/cuttable-proxy.js';
import { query, uniqueName } from '../helpers/test-databases.js';

const server = inject('postgres');
const outside = SYSTEM_MIGRATIONS.findIndex((m) => m.outsideTransaction);
const INDEX = 'workflow_status_queue_created';

it("a start's DROP of a dead build's leftover that arrives after another start rebuilt the index does not drop the new index", { timeout: 30_000 }, async () => {
  expect(outside).toBeGreaterThan(0);
  const database = uniqueName('staledrop');
  await ensureDatabaseExists({ ...server, ssl: 'disable', connectionTimeoutMillis: 5_000 }, database);
  const pool = new pg.Pool({ ...server, database, max: 1 });
  const proxy = new CuttableProxy({ host: server.host, port: server.port });
  const slowPool = createPool({ ...server, host: '127.0.0.1', port: await proxy.listen(), ssl: 'disable', connectionTimeoutMillis: 5_000 }, database, 1);
  try {
    await migrateSchema(pool, database, SYSTEM_MIGRATIONS.slice(0, outside));
    // A dead build's leftover under the migration's index name: a build that failed leaves it invalid.
    for (const uuid of ['a', 'b']) {
      await query(database, `INSERT INTO operon.workflow_status (workflow_uuid, status, workflow_name, executor_id, inputs, created_at, updated_at)
        VALUES ($1, 'PENDING', 'W.w', 'e', '[]', 1, 1)`, [uuid]);
    }
    await expect(query(database, `CREATE UNIQUE INDEX CONCURRENTLY ${INDEX} ON operon.workflow_status (executor_id)`)).rejects.toThrow();
    expect(await query(database, `SELECT i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = $1`, [INDEX])).toEqual([{ valid: false }]);

    // The first start's DROP of the leftover is held in transit, past its 1 s lease.
    const held = proxy.stallAt('DROP INDEX');
    const first = migrateSchema(slowPool, database, SYSTEM_MIGRATIONS, { buildLeaseSeconds: 1 }).then(
      (applied) => applied,
      (error: Error) => error,
    );
    await held;
    await new Promise((resolve) => setTimeout(resolve, 1_500));

    // The next start takes the lapsed claim over and finishes the migration.
    expect(await migrateSchema(pool, database, SYSTEM_MIGRATIONS, { buildLeaseSeconds: 1 })).toEqual(SYSTEM_MIGRATIONS.slice(outside).map((m) => m.version));
    // The first start's DROP arrives at last.
    proxy.unstall();
    expect(await first).toEqual([]);

    const indexes = await query<{ name: string; valid: boolean }>(
      database,
      `SELECT c.relname AS name, i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'operon' AND c.relname IN ($1, 'workflow_status_version_created') ORDER BY 1`,
      [INDEX],
    );
    expect(indexes).toEqual([
      { name: INDEX, valid: true },
      { name: 'workflow_status_version_created', valid: true },
    ]);
  } finally {
    proxy.unstall();
    await slowPool.end();
    await proxy.close();
    await pool.end();
  }
});
