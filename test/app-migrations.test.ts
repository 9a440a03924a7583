import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { OperonAppMigrationError, applyAppMigrations } from '@operon/runtime';
import { query, uniqueName } from './helpers/test-databases.js';

const dirs: string[] = [];
const pools: pg.Pool[] = [];

function migrationsFolder(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'operon-migrations-'));
  dirs.push(dir);
  for (const [name, sql] of Object.entries(files)) writeFileSync(join(dir, name), sql);
  return dir;
}

let database: string;

async function freshDatabase(): Promise<string> {
  const name = uniqueName('appmig');
  await query('postgres', `CREATE DATABASE ${name}`);
  return name;
}

function poolOn(name: string): pg.Pool {
  const server = inject('postgres');
  const pool = new pg.Pool({ host: server.host, port: server.port, user: server.user, password: server.password, database: name, max: 3 });
  pools.push(pool);
  return pool;
}

beforeAll(async () => {
  database = await freshDatabase();
});

afterAll(async () => {
  await Promise.all(pools.map((pool) => pool.end()));
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('applyAppMigrations', () => {
  it('applies .sql files in name order, each once, and records them', async () => {
    const dir = migrationsFolder({
      '002_add_column.sql': 'ALTER TABLE greetings ADD COLUMN loud BOOLEAN NOT NULL DEFAULT false;',
      '001_create_greetings.sql': 'CREATE TABLE greetings (id SERIAL PRIMARY KEY, name TEXT NOT NULL);\nINSERT INTO greetings (name) VALUES (\'first\');',
      'README.txt': 'not a migration',
    });
    mkdirSync(join(dir, '003_a_folder.sql'));
    const pool = poolOn(database);
    expect(await applyAppMigrations(pool, dir)).toEqual(['001_create_greetings.sql', '002_add_column.sql']);
    expect(await applyAppMigrations(pool, dir)).toEqual([]);
    expect(await query(database, 'SELECT name, loud FROM greetings')).toEqual([{ name: 'first', loud: false }]);
    const recorded = await query(database, 'SELECT name, applied_at FROM operon.app_migrations ORDER BY name');
    expect(recorded.map((r) => r.name)).toEqual(['001_create_greetings.sql', '002_add_column.sql']);
    expect(recorded[0].applied_at).toBeInstanceOf(Date);

    writeFileSync(join(dir, '003_more.sql'), "INSERT INTO greetings (name) VALUES ('third');");
    const logged: string[] = [];
    expect(await applyAppMigrations(pool, dir, { info: (_obj: unknown, msg?: string) => void logged.push(msg ?? '') })).toEqual(['003_more.sql']);
    expect(logged).toEqual(['applied migration 003_more.sql']);
  });

  it('treats a missing folder as no migrations', async () => {
    expect(await applyAppMigrations(poolOn(database), join(tmpdir(), 'operon-no-such-folder'))).toEqual([]);
  });

  it('stops at a failing file, naming it, with Postgres message and line; the file leaves nothing behind', async () => {
    const name = await freshDatabase();
    const dir = migrationsFolder({
      '001_ok.sql': 'CREATE TABLE t1 (id INT);',
      '002_broken.sql': 'CREATE TABLE t2 (id INT);\n\nINSERT INTO no_such_table VALUES (1);',
      '003_never.sql': 'CREATE TABLE t3 (id INT);',
    });
    const error = await applyAppMigrations(poolOn(name), dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OperonAppMigrationError);
    expect((error as Error).message).toBe(
      `migration ${join(dir, '002_broken.sql')} failed: relation "no_such_table" does not exist (SQLSTATE 42P01, line 3, column 13); ` +
        'fix it and migrate again (the files before it stay applied)',
    );
    const tables = await query(name, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1");
    expect(tables.map((t) => t.tablename)).toEqual(['t1']);
    expect((await query(name, 'SELECT name FROM operon.app_migrations')).map((r) => r.name)).toEqual(['001_ok.sql']);
  });

  it('applies each file once when several processes migrate at once', async () => {
    const name = await freshDatabase();
    const dir = migrationsFolder({
      '001_counter.sql': 'CREATE TABLE counter (n INT); INSERT INTO counter VALUES (1);',
      '002_bump.sql': 'UPDATE counter SET n = n + 1;',
      '003_bump.sql': 'UPDATE counter SET n = n + 1;',
    });
    const results = await Promise.all(Array.from({ length: 5 }, () => applyAppMigrations(poolOn(name), dir)));
    expect(results.flat().sort()).toEqual(['001_counter.sql', '002_bump.sql', '003_bump.sql']);
    expect(await query(name, 'SELECT n FROM counter')).toEqual([{ n: 3 }]);
  });
});
