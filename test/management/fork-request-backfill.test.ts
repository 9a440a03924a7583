/**
 * The migration that gives each workflow the fork or restart request that made it
 * (`operon.workflow_status.fork_request`) fills it in for forks made before it, from the audit
 * entry written with each: a fork made then and retried after the upgrade is still answered with
 * the workflow it made. A workflow a client started later under a UUID whose fork retention
 * deleted (its audit entry is days older than the row) gets none.
 */
import pg from 'pg';
import { expect, inject, it } from 'vitest';
import { migrateSchema } from '../../packages/runtime/src/system-db/schema-migrator.js';
import { SYSTEM_MIGRATIONS } from '../../packages/runtime/src/system-db/migrations.generated.js';
import { ensureDatabaseExists } from '../../packages/runtime/src/database/pools.js';
import { query, uniqueName } from '../helpers/test-databases.js';

const server = inject('postgres');
const DAY_MS = 86_400_000;

it('fills in the request of forks made before it, and of nothing else', async () => {
  const database = uniqueName('fork_backfill');
  await ensureDatabaseExists({ ...server, ssl: 'disable' as const, connectionTimeoutMillis: 5000 }, database);
  const pool = new pg.Pool({ ...server, database, max: 2 });
  try {
    const added = SYSTEM_MIGRATIONS.findIndex((m) => m.sql.includes('ADD COLUMN fork_request'));
    expect(added).toBeGreaterThan(0);
    await migrateSchema(pool, database, SYSTEM_MIGRATIONS.slice(0, added));
    const row = (uuid: string, at: number) =>
      query(database, `INSERT INTO operon.workflow_status (workflow_uuid, status, workflow_name, executor_id, inputs, created_at, updated_at) VALUES ($1, 'SUCCESS', 'W.w', 'e', '[]', $2, $2)`, [uuid, at]);
    const audit = (action: string, forked: string, at: number, request: object) =>
      query(database, `INSERT INTO operon.audit_log (at, actor, action, request, workflow_uuids, changed) VALUES ($1, 'a', $2, $3, ARRAY[$4::text], 1)`, [at, action, JSON.stringify(request), forked]);
    const t = 1_700_000_000_000;
    await row('forked', t + 1);
    await audit('fork', 'forked', t, { fromStep: 2, workflowUUID: 'original', forkedUUID: 'forked' });
    await row('restarted', t + 5);
    await audit('restart', 'restarted', t + 5, { fromStep: 0, workflowUUID: 'original', forkedUUID: 'restarted' });
    // A fork into "reused" that retention deleted; the row is a client's start days later.
    await audit('fork', 'reused', t, { fromStep: 1, workflowUUID: 'original', forkedUUID: 'reused' });
    await row('reused', t + 30 * DAY_MS);
    await row('plain', t);

    await migrateSchema(pool, database, SYSTEM_MIGRATIONS);
    const rows = await query(database, `SELECT workflow_uuid, fork_request FROM operon.workflow_status ORDER BY 1`);
    expect(rows.map((r) => ({ uuid: r.workflow_uuid, request: r.fork_request === null ? null : JSON.parse(r.fork_request) }))).toEqual([
      { uuid: 'forked', request: { action: 'fork', fromStep: 2, workflowUUID: 'original', forkedUUID: 'forked' } },
      { uuid: 'plain', request: null },
      { uuid: 'restarted', request: { action: 'restart', fromStep: 0, workflowUUID: 'original', forkedUUID: 'restarted' } },
      { uuid: 'reused', request: null },
    ]);
  } finally {
    await pool.end();
  }
});
