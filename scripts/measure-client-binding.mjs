/**
 * What `database.client` adds to each transaction: the time to bind the configured library to the
 * transaction's connection (no database involved; run `pnpm run build` first). Prints one line per
 * client: `node scripts/measure-client-binding.mjs`.
 */
import { loadTransactionClient } from '../packages/runtime/dist/database/transaction-clients.js';

const connection = { query: async () => ({ rows: [] }) };
const ROUNDS = 100_000;
for (const kind of ['pg', 'knex', 'kysely', 'drizzle']) {
  const bind = await loadTransactionClient(kind, process.cwd());
  for (let i = 0; i < ROUNDS / 5; i++) bind(connection);
  const started = process.hrtime.bigint();
  for (let i = 0; i < ROUNDS; i++) bind(connection);
  const micros = Number(process.hrtime.bigint() - started) / ROUNDS / 1000;
  console.log(`${kind.padEnd(8)} ${micros.toFixed(2)} µs per transaction`);
}
