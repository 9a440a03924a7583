/**
 * Regression: the testing runtime refused a database name too long for its test copies by its
 * length in characters, but Postgres's limit is 63 bytes. A name of 23 two-byte characters passed
 * (46 bytes), and its template (`<name>_test_tpl_<key>`, 68 bytes) was cut short by Postgres: the
 * template was never found under its full name, and a name cut inside a character is another name.
 * The limit counts bytes, and its message says so.
 */
import pg from 'pg';
import { describe, expect, inject, it } from 'vitest';
import { claimDatabaseName, testDatabaseName } from '../../packages/runtime/src/testing/test-databases.js';

const server = inject('postgres');
const direct = server.direct ?? { host: server.host, port: server.port };

/** Whether Postgres keeps `name` whole as a database's name (63 bytes at most). */
async function keptWhole(name: string): Promise<boolean> {
  const client = new pg.Client({ host: direct.host, port: direct.port, user: server.user, password: server.password, database: 'postgres' });
  await client.connect();
  try {
    const { rows } = await client.query<{ whole: boolean }>('SELECT $1::text::name::text = $1::text AS whole', [name]);
    return rows[0]!.whole;
  } finally {
    await client.end();
  }
}

describe('a database name of multibyte characters', () => {
  it('is refused when a test copy, its template or its claim database would pass 63 bytes', async () => {
    const long = 'é'.repeat(23);
    expect(await keptWhole(`${long}_test_tpl_0123456789ab`)).toBe(false);
    expect(() => testDatabaseName(long)).toThrow(/the database name "é+" is too long for its test copies \(keep it to 33 bytes\)/);
    // One that fits: every name made from it is kept whole.
    const short = 'é'.repeat(16);
    const test = testDatabaseName(short);
    expect(await keptWhole(`${test}_tpl_0123456789ab`)).toBe(true);
    expect(await keptWhole(claimDatabaseName(test))).toBe(true);
  });
});
