/**
 * `@dbos-inc/postgres-datasource` 4.24.16 (its newest release) calls three helpers that
 * `@dbos-inc/dbos-sdk` 5.3.0 no longer exports from `@dbos-inc/dbos-sdk/datasource`:
 * `checkSchemaInstallationPG`, `createTransactionCompletionSchemaPG` and
 * `createTransactionCompletionTablePG`. The data source only calls them while it initializes (to
 * find or create its `transaction_completion` table), never on the transaction path. This module
 * adds equivalents to the sdk's `datasource` exports before the data source is loaded; if a later
 * sdk exports them again, its own versions are kept.
 */
import { createRequire } from 'node:module';

type SdkDatasourceExports = Record<string, unknown> & {
  getDataSourceMigrationsPG?: (schemaName?: string) => string[];
};

function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** The columns the 4.x data source reads and writes, as the sdk's own migration 1 creates them. */
function transactionCompletionTableSql(schemaName: string): string {
  return `CREATE TABLE IF NOT EXISTS ${quoteIdentifier(schemaName)}.transaction_completion (
    workflow_id TEXT NOT NULL,
    function_num INT4 NOT NULL,
    output TEXT,
    error TEXT,
    created_at BIGINT NOT NULL DEFAULT (EXTRACT(EPOCH FROM now())*1000)::bigint,
    PRIMARY KEY (workflow_id, function_num)
  )`;
}

function helpers(sdk: SdkDatasourceExports): Record<string, (schemaName?: string) => string> {
  return {
    // One row: does the schema exist, does its transaction_completion table exist.
    checkSchemaInstallationPG: (schemaName = 'dbos') =>
      `SELECT
         EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = ${quoteLiteral(schemaName)}) AS schema_exists,
         EXISTS (SELECT 1 FROM pg_catalog.pg_tables
                 WHERE schemaname = ${quoteLiteral(schemaName)} AND tablename = 'transaction_completion') AS table_exists`,
    createTransactionCompletionSchemaPG: (schemaName = 'dbos') => `CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(schemaName)}`,
    // The sdk still defines the table, as its data source migration 1: use its definition when it has one.
    createTransactionCompletionTablePG: (schemaName = 'dbos') =>
      sdk.getDataSourceMigrationsPG?.(schemaName)[0] ?? transactionCompletionTableSql(schemaName),
  };
}

/**
 * Adds the missing helpers to the very module object the data source will `require` (resolved from
 * the data source's own folder, so it is the same instance). Returns the names it supplied.
 */
export function supplyDatasourceHelpers(): string[] {
  const require = createRequire(import.meta.url);
  const requireFromDatasource = createRequire(require.resolve('@dbos-inc/postgres-datasource'));
  const sdk = requireFromDatasource('@dbos-inc/dbos-sdk/datasource') as SdkDatasourceExports;
  const supplied: string[] = [];
  for (const [name, fn] of Object.entries(helpers(sdk))) {
    if (typeof sdk[name] === 'function') continue;
    Object.defineProperty(sdk, name, { value: fn, enumerable: true, configurable: true });
    supplied.push(name);
  }
  return supplied;
}
