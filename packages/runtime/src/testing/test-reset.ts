/**
 * The testing runtime's reset in place: the test databases back to the state they had when the
 * testing runtime started, in one statement per database, without copying a database again.
 *
 * - The app database: every table of the app (not an extension's) is emptied, and the rows it held
 *   then (its migrations' and initializers' seed rows, kept in schema `operon_test_seed`) are put
 *   back, parents before children; every materialized view is refreshed from them; every sequence
 *   gets its value of then; Operon's transaction outputs and owner rows are emptied, its migration
 *   bookkeeping kept. Before that, what a test created in the app's schemas is dropped: every
 *   table, view, sequence, index, trigger, function, type, extension and schema that was not
 *   there at the start (their oids at the start are kept in SEED_SCHEMA.start_objects). Nothing
 *   of the start is ever changed to drop one: if an object of the start depends on one (a column
 *   of a new type), the reset fails naming it.
 * - The system database: every table is emptied but the migration bookkeeping, the queues this
 *   executor serves, and the executor's own row, which moves to its new instance id (so that every
 *   write of an execution from before the reset is fenced).
 */
import pg from 'pg';
import { OperonTestingUsageError } from './testing-errors.js';

const { escapeLiteral } = pg;

/** Where the app tables' seed rows are kept, in the test app database. */
export const SEED_SCHEMA = 'operon_test_seed';
/** The schemas of the app's own objects: not Postgres's, not Operon's, not the seed's. */
const APP_SCHEMA = `n.nspname NOT IN ('pg_catalog', 'information_schema', 'operon', '${SEED_SCHEMA}') AND n.nspname NOT LIKE 'pg\\_%'`;
/** Not an extension's: an extension's objects go with it. */
const notOfExtension = (catalog: string, oid: string) =>
  `NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = '${catalog}'::regclass AND d.objid = ${oid} AND d.deptype = 'e')`;
/**
 * The app's objects a test may create, each with the statement that drops it and a rank: what
 * usually depends on another comes first (triggers, views, tables, sequences, indexes, routines,
 * types, extensions, schemas), so that most drops succeed in the first round. An index that backs
 * a constraint goes with its table or constraint, never alone.
 */
const APP_OBJECTS = `
  SELECT 'pg_trigger'::regclass AS classid, t.oid AS objid, 1 AS rank, format('DROP TRIGGER IF EXISTS %I ON %s', t.tgname, t.tgrelid::regclass) AS ddl
  FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE NOT t.tgisinternal AND ${APP_SCHEMA} AND ${notOfExtension('pg_trigger', 't.oid')}
  UNION ALL
  SELECT 'pg_class'::regclass, c.oid,
    CASE WHEN c.relkind IN ('v', 'm') THEN 2 WHEN c.relkind IN ('r', 'p', 'f') THEN 3 WHEN c.relkind = 'S' THEN 4 WHEN c.relkind IN ('i', 'I') THEN 5 ELSE 7 END,
    format('DROP %s IF EXISTS %I.%I',
      CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'f' THEN 'FOREIGN TABLE' WHEN 'S' THEN 'SEQUENCE'
        WHEN 'i' THEN 'INDEX' WHEN 'I' THEN 'INDEX' WHEN 'c' THEN 'TYPE' ELSE 'TABLE' END, n.nspname, c.relname)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'p', 'f', 'v', 'm', 'S', 'i', 'I', 'c') AND ${APP_SCHEMA} AND ${notOfExtension('pg_class', 'c.oid')}
    AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = c.oid)
  UNION ALL
  SELECT 'pg_proc'::regclass, p.oid, 6, format('DROP %s IF EXISTS %s', CASE p.prokind WHEN 'a' THEN 'AGGREGATE' ELSE 'ROUTINE' END, p.oid::regprocedure)
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
  WHERE ${APP_SCHEMA} AND ${notOfExtension('pg_proc', 'p.oid')}
  UNION ALL
  SELECT 'pg_type'::regclass, t.oid, 7, format('DROP %s IF EXISTS %I.%I', CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, n.nspname, t.typname)
  FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
  WHERE t.typtype IN ('e', 'd', 'r') AND ${APP_SCHEMA} AND ${notOfExtension('pg_type', 't.oid')}
  UNION ALL
  SELECT 'pg_extension'::regclass, e.oid, 8, format('DROP EXTENSION IF EXISTS %I', e.extname) FROM pg_extension e
  UNION ALL
  SELECT 'pg_namespace'::regclass, n.oid, 9, format('DROP SCHEMA IF EXISTS %I', n.nspname) FROM pg_namespace n WHERE ${APP_SCHEMA}`;

/**
 * Drops, round after round, every app object of APP_OBJECTS not among the start's; each drop is
 * RESTRICT (never CASCADE: that could reach into an object of the start). A drop that another
 * object still needs waits for the next round; once a round drops nothing, what is left needs an
 * object of the start, and the reset fails with SQLSTATE 2BP01 naming it.
 */
const DROP_CREATED = `DO $drop_created$
DECLARE
  created record;
  progressed boolean;
  blocked text;
  detail text;
BEGIN
  LOOP
    progressed := false;
    blocked := NULL;
    FOR created IN
      SELECT o.ddl FROM (${APP_OBJECTS}) o
      WHERE NOT EXISTS (SELECT 1 FROM ${SEED_SCHEMA}.start_objects s WHERE s.classid = o.classid AND s.objid = o.objid)
      ORDER BY o.rank, o.objid DESC
    LOOP
      BEGIN
        EXECUTE created.ddl;
        progressed := true;
      EXCEPTION
        WHEN dependent_objects_still_exist THEN
          GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
          blocked := concat_ws('; ', blocked, format('%s (%s%s)', created.ddl, SQLERRM, CASE WHEN detail <> '' THEN ': ' || replace(detail, E'\n', ', ') ELSE '' END));
        -- Gone with what it belonged to (a table's sequence, index or trigger) since the list was read.
        WHEN undefined_table OR undefined_object OR undefined_function THEN
          progressed := true;
      END;
    END LOOP;
    EXIT WHEN blocked IS NULL;
    IF NOT progressed THEN
      RAISE EXCEPTION 'what the test created cannot be dropped without changing what was there at the start: %', blocked
        USING ERRCODE = 'dependent_objects_still_exist';
    END IF;
  END LOOP;
END
$drop_created$`;

/**
 * Whether any session of the app database holds a temporary object (a table, view, sequence,
 * function or type in its pg_temp schema). A session's own temporary objects come first in its
 * search path: one a test made would shadow the app's table of the same name for whatever later
 * runs on that pooled session, the next tests' queries and the app's transactions alike.
 */
const TEMPORARY_OBJECTS = `SELECT EXISTS (SELECT 1 FROM pg_class WHERE relpersistence = 't')
  OR EXISTS (SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname LIKE 'pg\\_temp\\_%')
  OR EXISTS (SELECT 1 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname LIKE 'pg\\_temp\\_%') AS temporary`;

/** System tables a reset keeps: the migration bookkeeping, the live executor's row and its queues. */
const KEPT_SYSTEM_TABLES = new Set(['schema_version', 'executors', 'queues']);

export interface ResetStatements {
  /** Empties the app database and puts its seed back: one multi-statement query (one transaction). */
  readonly app: string;
  /** The system tables to empty, quoted. */
  readonly systemTables: readonly string[];
}

interface AppTable {
  readonly oid: number;
  /** Schema-qualified and quoted. */
  readonly name: string;
  readonly hasRows: boolean;
  /** The columns a seed row is inserted with (all but generated ones), quoted. */
  readonly columns: string;
}

/**
 * Reads what a reset puts back: which tables the app has, the rows of those that have any (copied
 * into SEED_SCHEMA), and every sequence's value; returns the statements of a reset.
 */
export async function captureSeed(appPool: pg.Pool, systemPool: pg.Pool): Promise<ResetStatements> {
  const client = await appPool.connect();
  try {
    const { rows: tables } = await client.query<{ oid: number; name: string; columns: string }>(
      `SELECT c.oid::int AS oid, format('%I.%I', n.nspname, c.relname) AS name,
              (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) FROM pg_attribute a
               WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '') AS columns
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
         AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'operon', $1) AND n.nspname NOT LIKE 'pg\\_%'
         AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
       ORDER BY 2`,
      [SEED_SCHEMA],
    );
    const withRows = new Set<number>();
    if (tables.length > 0) {
      const { rows } = await client.query<{ oid: number }>(
        tables.map((t) => `SELECT ${t.oid}::int AS oid WHERE EXISTS (SELECT 1 FROM ${t.name})`).join(' UNION ALL '),
      );
      for (const row of rows) withRows.add(row.oid);
    }
    const parents = await foreignKeys(client);
    const appTables = parentsFirst(tables.map((t) => ({ ...t, hasRows: withRows.has(t.oid) })), parents);
    const seeded = appTables.filter((t) => t.hasRows);
    // A copy of each seeded table, as exact as the table itself (no conversion through text),
    // and the app's objects of the start: what a reset does not drop.
    await client.query(`DROP SCHEMA IF EXISTS ${SEED_SCHEMA} CASCADE`);
    await client.query(`CREATE SCHEMA ${SEED_SCHEMA}`);
    await client.query(`CREATE TABLE ${SEED_SCHEMA}.start_objects AS SELECT classid, objid FROM (${APP_OBJECTS}) o`);
    for (const table of seeded) await client.query(`CREATE TABLE ${SEED_SCHEMA}.t${table.oid} AS SELECT * FROM ${table.name}`);
    // Materialized views hold rows of their own: refreshed from the seed rows once they are back
    // (one never populated is left so). By oid: a view over another is created after it.
    const { rows: views } = await client.query<{ name: string; populated: boolean }>(
      `SELECT format('%I.%I', n.nspname, c.relname) AS name, c.relispopulated AS populated
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE c.relkind = 'm' AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'operon', $1) AND n.nspname NOT LIKE 'pg\\_%'
         AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
       ORDER BY c.oid`,
      [SEED_SCHEMA],
    );
    const { rows: sequences } = await client.query<{ name: string; value: string; called: boolean }>(
      `SELECT format('%I.%I', schemaname, sequencename) AS name, coalesce(last_value, start_value)::text AS value, last_value IS NOT NULL AS called
       FROM pg_sequences WHERE schemaname NOT IN ('operon', $1)`,
      [SEED_SCHEMA],
    );
    // DELETE, not TRUNCATE: on the few rows of a test, several times faster (TRUNCATE makes new
    // files for every table and index). Children first, so that no foreign key stops a DELETE; with
    // the right to (a superuser), as a replica: no trigger of the app fires and no key is checked.
    const emptied = [...[...appTables].reverse().map((t) => t.name), 'operon.transaction_outputs', 'operon.workflow_owners'];
    const asReplica = await client.query('BEGIN; SET LOCAL session_replication_role = replica; ROLLBACK').then(
      () => true,
      async () => {
        await client.query('ROLLBACK');
        return false;
      },
    );
    const app = [
      'BEGIN',
      ...(asReplica ? ['SET LOCAL session_replication_role = replica'] : []),
      // Quiet: a drop IF EXISTS of what went with its table would send a notice.
      'SET LOCAL client_min_messages = warning',
      // First: a table a test created may reference a table of the start, whose DELETE it would stop.
      DROP_CREATED,
      ...emptied.map((name) => `DELETE FROM ${name}`),
      ...seeded.map((t) => `INSERT INTO ${t.name} (${t.columns}) OVERRIDING SYSTEM VALUE SELECT ${t.columns} FROM ${SEED_SCHEMA}.t${t.oid}`),
      ...views.map((v) => `REFRESH MATERIALIZED VIEW ${v.name}${v.populated ? '' : ' WITH NO DATA'}`),
      ...(sequences.length > 0
        ? [`SELECT ${sequences.map((s) => `setval(${client.escapeLiteral(s.name)}::regclass, ${BigInt(s.value)}, ${s.called})`).join(', ')}`]
        : []),
      'COMMIT',
      // Last, so that its answer is the query's last: whether a session holds temporary objects.
      TEMPORARY_OBJECTS,
    ].join(';\n');
    const { rows: systemTables } = await systemPool.query<{ name: string; table: string }>(
      `SELECT format('%I.%I', n.nspname, c.relname) AS name, c.relname AS table FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND n.nspname = 'operon' ORDER BY 1`,
    );
    return { app, systemTables: systemTables.filter((t) => !KEPT_SYSTEM_TABLES.has(t.table)).map((t) => t.name) };
  } finally {
    client.release();
  }
}

/** Child → the parents it references, among the app's tables (by oid). */
async function foreignKeys(client: pg.PoolClient): Promise<Map<number, number[]>> {
  const { rows } = await client.query<{ child: number; parent: number }>(
    `SELECT conrelid::int AS child, confrelid::int AS parent FROM pg_constraint WHERE contype = 'f' AND conrelid <> confrelid`,
  );
  const parents = new Map<number, number[]>();
  for (const { child, parent } of rows) parents.set(child, [...(parents.get(child) ?? []), parent]);
  return parents;
}

/** `tables` ordered so that a table comes after those it references (a cycle keeps its order: its DELETEs need the replica role). */
function parentsFirst(tables: readonly AppTable[], parents: ReadonlyMap<number, readonly number[]>): AppTable[] {
  const byOid = new Map(tables.map((t) => [t.oid, t]));
  const ordered: AppTable[] = [];
  const visiting = new Set<number>();
  const placed = new Set<number>();
  const place = (table: AppTable) => {
    if (placed.has(table.oid) || visiting.has(table.oid)) return;
    visiting.add(table.oid);
    for (const parent of parents.get(table.oid) ?? []) {
      const seededParent = byOid.get(parent);
      if (seededParent) place(seededParent);
    }
    placed.add(table.oid);
    ordered.push(table);
  };
  for (const table of tables) place(table);
  return ordered;
}

/**
 * Runs a reset's statements on both databases at once; the system database's also moves the
 * executor's row from `previousInstance` to `nextInstance` and drops every other executor's.
 */
export async function resetDatabases(appPool: pg.Pool, systemPool: pg.Pool, statements: ResetStatements, previousInstance: string, nextInstance: string): Promise<void> {
  const previous = escapeLiteral(previousInstance);
  // The two databases at once: neither statement depends on the other.
  await Promise.all([
    appPool.query(statements.app).then(
      async (results) => {
        const answers = results as unknown as pg.QueryResult<{ temporary: boolean }>[];
        if (answers.at(-1)?.rows[0]?.temporary) await discardTemporaryObjects(appPool);
      },
      (error: unknown) => {
        const code = (error as { code?: string }).code;
        // undefined_table: a DELETE, setval or REFRESH of the start's names found nothing there.
        if (code === '42P01') {
          throw new OperonTestingUsageError(
            'reset',
            `${(error as Error).message}: a table, sequence or materialized view that was there at the start is gone (a test dropped or renamed it), ` +
              'and a reset puts back rows, never the objects that held them. Undo it in the test (rename it back; one dropped and created again is a new object, which the reset drops), or give the test a testing runtime of its own',
          );
        }
        if (code !== '2BP01') throw error;
        throw new OperonTestingUsageError(
          'reset',
          `${(error as Error).message}. A reset drops what a test created (tables, views, sequences, indexes, triggers, functions, types, extensions, schemas) ` +
            'but never changes what was there at the start to do so: undo the change to it in the test (ALTER TABLE … DROP COLUMN …), or give the test a testing runtime of its own',
        );
      },
    ),
    systemPool.query(
      [
        'BEGIN',
        ...statements.systemTables.map((name) => `DELETE FROM ${name}`),
        `DELETE FROM operon.executors WHERE instance_id <> ${previous}`,
        `UPDATE operon.executors SET instance_id = ${escapeLiteral(nextInstance)}, heartbeat_at = now() WHERE instance_id = ${previous}`,
        'COMMIT',
      ].join(';\n'),
    ),
  ]);
}

/**
 * Drops the temporary objects of every session of `appPool`, each in its own session (DISCARD
 * TEMP: another session's temporary table cannot be dropped safely from outside). The pool was
 * drained: all of its sessions are idle, and checking out that many hands each of them out once.
 */
async function discardTemporaryObjects(appPool: pg.Pool): Promise<void> {
  const sessions = await Promise.all(Array.from({ length: appPool.idleCount }, () => appPool.connect()));
  try {
    await Promise.all(sessions.map((session) => session.query('DISCARD TEMP')));
  } finally {
    for (const session of sessions) session.release();
  }
}

/**
 * Empties the system database's records as a reset does (the executors' rows kept), on a client
 * of its own: for a crashed runtime's reset, before its successor starts, which would otherwise
 * resume the dead runtime's workflows and let them run until the reset abandons them.
 */
export async function forgetWorkflows(systemClient: pg.ClientBase, statements: ResetStatements): Promise<void> {
  await systemClient.query(['BEGIN', ...statements.systemTables.map((name) => `DELETE FROM ${name}`), 'COMMIT'].join(';\n'));
}

/**
 * Waits until no statement of `pools` is in flight (those of the executions a reset abandoned
 * finish, or fail at their fence), up to `limitMs`; then ends the sessions still busy (a
 * transaction the abandoned code keeps open), so that none holds a lock the reset would wait on.
 */
export async function drainPools(pools: readonly pg.Pool[], limitMs: number, endBusySessions: () => Promise<void>): Promise<void> {
  const giveUpAt = Date.now() + limitMs;
  const busy = () => pools.some((pool) => pool.waitingCount > 0 || pool.totalCount > pool.idleCount);
  while (busy()) {
    if (Date.now() > giveUpAt) return endBusySessions();
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}
