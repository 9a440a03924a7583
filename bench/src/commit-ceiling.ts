/**
 * The commit ceiling: autocommit single-row INSERTs per second through `pg`, with `clients`
 * connections each inserting in a loop. Every durable workflow step costs at least one commit,
 * so this bounds what any framework can do on this server.
 */
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import type { ServerAddress } from './bench-server.js';
import { CEILING_INSERT } from './workloads.js';

export async function measureCommitCeiling(
  address: ServerAddress,
  database: string,
  clients: number,
  warmupMs: number,
  measureMs: number,
): Promise<number> {
  const connections = await Promise.all(
    Array.from({ length: clients }, async () => {
      const client = new pg.Client({ host: address.host, port: address.port, user: address.user, password: address.password, database });
      await client.connect();
      return client;
    }),
  );
  try {
    const start = performance.now();
    const measureFrom = start + warmupMs;
    const end = measureFrom + measureMs;
    let counted = 0;
    await Promise.all(
      connections.map(async (client, index) => {
        for (let i = 0; performance.now() < end; i++) {
          await client.query(CEILING_INSERT, [index * 1_000_000 + i]);
          const now = performance.now();
          if (now >= measureFrom && now < end) counted++;
        }
      }),
    );
    return counted / (measureMs / 1000);
  } finally {
    await Promise.all(connections.map((client) => client.end()));
  }
}
