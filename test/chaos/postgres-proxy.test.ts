/**
 * The chaos harness's proxy, against the test Postgres: a commit cut lets the COMMIT reach the
 * server (the row is there afterwards) while the client only sees its connection end, and it
 * cuts nothing it was not asked to.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { PostgresProxy } from './postgres-proxy.js';

const MARK = 'chaos-test-mark';
const server = inject('postgres');
const table = `proxy_cut_${randomBytes(4).toString('hex')}`;
let proxy: PostgresProxy;
let proxyPort: number;
const clients: pg.Client[] = [];

async function client(port: number): Promise<pg.Client> {
  const c = new pg.Client({ host: '127.0.0.1', port, user: server.user, password: server.password, database: 'postgres', connectionTimeoutMillis: 5_000 });
  c.on('error', () => undefined);
  clients.push(c);
  await c.connect();
  return c;
}

async function rows(): Promise<string[]> {
  const direct = await client(server.port);
  try {
    return (await direct.query<{ v: string }>(`SELECT v FROM ${table} ORDER BY seq`)).rows.map((r) => r.v);
  } finally {
    await direct.end();
  }
}

beforeAll(async () => {
  proxy = new PostgresProxy({ host: server.host, port: server.port });
  proxyPort = await proxy.listen();
  const direct = await client(server.port);
  await direct.query(`CREATE TABLE ${table} (seq SERIAL PRIMARY KEY, v TEXT NOT NULL)`);
  await direct.end();
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  const direct = await client(server.port);
  await direct.query(`DROP TABLE IF EXISTS ${table}`);
  await direct.end();
  await proxy.close();
});

describe('the proxy loses the answer to a COMMIT', () => {
  it('of a marked transaction: the server commits, the client sees its connection end, unmarked work passes', async () => {
    const c = await client(proxyPort);
    const cut = proxy.loseNextCommitAnswer({ marker: MARK, timeoutMs: 5_000 });
    // Unmarked: untouched while the cut is armed.
    await c.query('BEGIN');
    await c.query(`INSERT INTO ${table} (v) VALUES ($1)`, ['plain']);
    await c.query('COMMIT');
    await c.query('BEGIN');
    await c.query(`INSERT INTO ${table} (v) VALUES ($1)`, [`${MARK}:one`]);
    await expect(c.query('COMMIT')).rejects.toThrow();
    expect(await cut).toEqual({ database: 'postgres', statement: 'COMMIT', committed: 'commit' });
    expect(await rows()).toEqual(['plain', `${MARK}:one`]);
  });

  it('of a statement and its COMMIT sent as one simple query, as a runtime records a transaction', async () => {
    const c = await client(proxyPort);
    const cut = proxy.loseNextCommitAnswer({ marker: MARK, timeoutMs: 5_000 });
    await c.query('BEGIN');
    await expect(c.query(`INSERT INTO ${table} (v) VALUES ('${MARK}:two'); COMMIT`)).rejects.toThrow();
    expect((await cut)?.committed).toBe('commit');
    expect(await rows()).toContain(`${MARK}:two`);
  });

  it('of a marked statement outside a transaction, which commits by itself', async () => {
    const c = await client(proxyPort);
    const cut = proxy.loseNextCommitAnswer({ marker: MARK, timeoutMs: 5_000 });
    await expect(c.query(`INSERT INTO ${table} (v) VALUES ($1)`, [`${MARK}:three`])).rejects.toThrow();
    expect((await cut)?.committed).toBe('autocommit');
    expect(await rows()).toContain(`${MARK}:three`);
  });

  it('of any COMMIT without a marker, and of nothing that rolls back', async () => {
    const c = await client(proxyPort);
    const cut = proxy.loseNextCommitAnswer({ timeoutMs: 5_000 });
    await c.query('BEGIN');
    await c.query(`INSERT INTO ${table} (v) VALUES ($1)`, ['rolled back']);
    await c.query('ROLLBACK');
    await c.query('BEGIN');
    await c.query(`INSERT INTO ${table} (v) VALUES ($1)`, ['any']);
    await expect(c.query('COMMIT')).rejects.toThrow();
    expect((await cut)?.statement).toBe('COMMIT');
    const stored = await rows();
    expect(stored).toContain('any');
    expect(stored).not.toContain('rolled back');
  });

  it('resolves undefined when nothing matches in time, and cuts nothing', async () => {
    const c = await client(proxyPort);
    const cut = proxy.loseNextCommitAnswer({ marker: 'never-sent', timeoutMs: 300 });
    await c.query('BEGIN');
    await c.query(`INSERT INTO ${table} (v) VALUES ($1)`, ['after']);
    await c.query('COMMIT');
    expect(await cut).toBeUndefined();
    expect((await c.query('SELECT 1 AS one')).rows[0].one).toBe(1);
  });
});
