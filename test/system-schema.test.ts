import pg from 'pg';
import { describe, expect, inject, it } from 'vitest';
import { OperonRuntime, OperonSchemaTooNewError } from '@operon/runtime';
import { migrateSchema } from '../packages/runtime/src/system-db/schema-migrator.js';
import { APP_DB_MIGRATIONS, SYSTEM_MIGRATIONS } from '../packages/runtime/src/system-db/migrations.generated.js';
import { ensureDatabaseExists } from '../packages/runtime/src/database/pools.js';
import { query, testConfig, uniqueName } from './helpers/test-databases.js';

const server = inject('postgres');
const settings = { ...server, ssl: 'disable' as const, connectionTimeoutMillis: 5000 };

async function withPool<T>(database: string, work: (pool: pg.Pool) => Promise<T>): Promise<T> {
  await ensureDatabaseExists(settings, database);
  const pool = new pg.Pool({ ...server, database, max: 2 });
  try {
    return await work(pool);
  } finally {
    await pool.end();
  }
}

async function catalog(database: string): Promise<unknown> {
  const columns = await query(
    database,
    `SELECT table_name, column_name, data_type, is_nullable, column_default FROM information_schema.columns
     WHERE table_schema = 'operon' ORDER BY 1, 2`,
  );
  const indexes = await query(database, "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'operon' ORDER BY 1");
  return { columns, indexes };
}

/** A finished workflow on queue `q`. */
const row = (uuid: string) =>
  `INSERT INTO operon.workflow_status (workflow_uuid, status, workflow_name, executor_id, inputs, queue_name, created_at, updated_at)
   VALUES ('${uuid}', 'SUCCESS', 'W.w', 'e', '[]', 'q', 1, 1)`;

/** The list's two indexes built outside a transaction, and whether each is valid (usable). */
function validity(database: string): Promise<unknown[]> {
  return query(
    database,
    `SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
     WHERE c.relname IN ('workflow_status_queue_created', 'workflow_status_version_created') ORDER BY 1`,
  );
}

describe('system schema migrations', () => {
  it('applies each migration once when many processes start at the same time', async () => {
    const config = testConfig('concurrent');
    const runtimes = await Promise.all(Array.from({ length: 6 }, () => OperonRuntime.create({ config, classes: [] })));
    await Promise.all(runtimes.map((rt) => rt.destroy()));
    const versions = await query(config.database.system_database, 'SELECT version FROM operon.schema_version ORDER BY 1');
    expect(versions.map((v) => v.version)).toEqual(SYSTEM_MIGRATIONS.map((m) => m.version));
    const appVersions = await query(config.database.user_database, 'SELECT version FROM operon.schema_version ORDER BY 1');
    expect(appVersions.map((v) => v.version)).toEqual(APP_DB_MIGRATIONS.map((m) => m.version));
  });

  it('gives the same catalog migrating step by step as a fresh install', async () => {
    const fresh = uniqueName('fresh');
    await withPool(fresh, (pool) => migrateSchema(pool, fresh, SYSTEM_MIGRATIONS));
    for (let k = 0; k < SYSTEM_MIGRATIONS.length; k++) {
      const stepwise = uniqueName(`step${k}`);
      await withPool(stepwise, async (pool) => {
        expect(await migrateSchema(pool, stepwise, SYSTEM_MIGRATIONS.slice(0, k))).toHaveLength(k);
        expect(await migrateSchema(pool, stepwise, SYSTEM_MIGRATIONS)).toHaveLength(SYSTEM_MIGRATIONS.length - k);
      });
      expect(await catalog(stepwise)).toEqual(await catalog(fresh));
    }
    // A database and two migrations for each migration there is: its time grows with their count
    // (17 of them took over 60 s beside a busy fleet test in a CI run, 10 to 15 s alone).
  }, 180_000);

  it("builds the list's indexes without blocking writes, and builds them anew over a leftover of a failed attempt", async () => {
    const outside = SYSTEM_MIGRATIONS.findIndex((m) => m.outsideTransaction);
    expect(outside).toBeGreaterThan(0);
    const database = uniqueName('concurrently');
    await withPool(database, async (pool) => {
      await migrateSchema(pool, database, SYSTEM_MIGRATIONS.slice(0, outside));
      await query(database, row('before'));
      // A running workflow's transaction holds the table: the build waits for it to end...
      const running = new pg.Client({ ...server, database });
      await running.connect();
      try {
        await running.query('BEGIN');
        await running.query("UPDATE operon.workflow_status SET updated_at = 2 WHERE workflow_uuid = 'before'");
        let migrated = false;
        const migrating = migrateSchema(pool, database, SYSTEM_MIGRATIONS).then(() => (migrated = true));
        await new Promise((resolve) => setTimeout(resolve, 500));
        expect(migrated).toBe(false);
        // ...and meanwhile other writes go on (behind a plain CREATE INDEX they would queue until the build ends).
        // To the server itself: a pooler refuses statement_timeout as a startup parameter.
        const writer = new pg.Client({ ...server, ...(server.direct ?? {}), database, statement_timeout: 3000 });
        await writer.connect();
        try {
          await writer.query(row('during'));
        } finally {
          await writer.end();
        }
        await running.query('COMMIT');
        await migrating;
      } finally {
        await running.end();
      }
      expect(await validity(database)).toEqual([
        { relname: 'workflow_status_queue_created', indisvalid: true },
        { relname: 'workflow_status_version_created', indisvalid: true },
      ]);
    });

    // A build that failed midway leaves its index behind, invalid (here: a unique build over two equal
    // rows, under the name of the migration's first index): the next start drops it and builds it right.
    const leftover = uniqueName('leftover');
    await withPool(leftover, async (pool) => {
      await migrateSchema(pool, leftover, SYSTEM_MIGRATIONS.slice(0, outside));
      for (const uuid of ['a', 'b']) await query(leftover, row(uuid));
      const failed = await query(leftover, 'CREATE UNIQUE INDEX CONCURRENTLY workflow_status_queue_created ON operon.workflow_status (queue_name)').catch((e: { code?: string }) => e.code);
      expect(failed).toBe('23505');
      expect(await validity(leftover)).toEqual([{ relname: 'workflow_status_queue_created', indisvalid: false }]);
      expect(await migrateSchema(pool, leftover, SYSTEM_MIGRATIONS)).toHaveLength(SYSTEM_MIGRATIONS.length - outside);
    });
    expect(await catalog(leftover)).toEqual(await catalog(database));
    expect(await validity(leftover)).toEqual(await validity(database));
  });

  it('refuses to start on a schema newer than it knows', async () => {
    const config = testConfig('toonew');
    await (await OperonRuntime.create({ config, classes: [] })).destroy();
    await query(config.database.system_database, 'INSERT INTO operon.schema_version (version, applied_at) VALUES (999, 0)');
    const error = await OperonRuntime.create({ config, classes: [] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OperonSchemaTooNewError);
    expect((error as Error).message).toBe(
      `database "${config.database.system_database}" has Operon schema version 999, newer than this runtime knows (${SYSTEM_MIGRATIONS.length}); upgrade @operon/runtime before starting`,
    );
  });
});
