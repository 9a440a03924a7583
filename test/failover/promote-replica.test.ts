/**
 * A Postgres failover under load. A primary streams to a synchronous replica (two real servers:
 * the replica is made from a base backup of the primary); Operon reaches "the database" through
 * a TCP proxy standing in for the DNS name or virtual IP a managed service moves. While W3-shaped
 * workflows run, the primary is killed (SIGKILL), the replica promoted and the name pointed at it:
 * every workflow whose start was acknowledged ends once, with its one transaction's row, and none
 * is lost or run twice.
 */
import { appendFileSync, chmodSync, chownSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Communicator, Transaction, Workflow, type CommunicatorContext, type TransactionContext, type WorkflowContext } from '@operon/sdk';
import { OperonRuntime, createLogger, resolveConfig } from '@operon/runtime';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../packages/runtime/src/database/embedded-postgres.js';
import { PostgresProxy } from '../chaos/postgres-proxy.js';
import { freePort } from '../helpers/global-setup.js';

class Orders {
  @Communicator()
  static async reserve(_ctx: CommunicatorContext, n: number): Promise<number> {
    return n;
  }

  @Transaction()
  static async place(ctx: TransactionContext, uuid: string, n: number): Promise<number> {
    const { rows } = await ctx.client.query<{ id: string }>('INSERT INTO failover_orders (workflow_uuid, n) VALUES ($1, $2) RETURNING id', [uuid, n]);
    return Number(rows[0]!.id);
  }

  @Communicator()
  static async confirm(_ctx: CommunicatorContext, id: number): Promise<string> {
    return `confirmed ${id}`;
  }

  @Workflow()
  static async order(ctx: WorkflowContext, n: number): Promise<string> {
    const reserved = await ctx.invoke(Orders).reserve(n);
    const id = await ctx.invoke(Orders).place(ctx.workflowUUID, reserved);
    return ctx.invoke(Orders).confirm(id);
  }
}

const root = mkdtempSync(join(tmpdir(), 'operon-failover-'));
// The servers run as user postgres, which must reach their folders.
chmodSync(root, 0o755);
const password = randomBytes(12).toString('hex');
let primary: EmbeddedPostgres | undefined;
let replica: EmbeddedPostgres | undefined;
const servers: EmbeddedPostgres[] = [];

function postgresIds(): { uid: number; gid: number } | undefined {
  if (userInfo().uid !== 0) return undefined;
  return {
    uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim()),
    gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim()),
  };
}

function chownTree(path: string, ids: { uid: number; gid: number }): void {
  chownSync(path, ids.uid, ids.gid);
  if (!statSync(path).isDirectory()) return;
  for (const entry of readdirSync(path)) chownTree(join(path, entry), ids);
}

async function superuser(server: EmbeddedPostgres): Promise<pg.Client> {
  const client = new pg.Client({ host: server.host, port: server.port, user: server.user, password, database: 'postgres' });
  await client.connect();
  return client;
}

/**
 * The replica: a base backup of the primary taken with the low-level API (the embedded binaries
 * have no pg_basebackup), streaming from a replication slot, in synchronous mode.
 */
async function makeReplica(from: EmbeddedPostgres): Promise<EmbeddedPostgres> {
  mkdirSync(join(root, 'replica'), { mode: 0o755 });
  const dataDir = join(root, 'replica', 'pgdata');
  const client = await superuser(from);
  try {
    await client.query("SELECT pg_create_physical_replication_slot('operon_replica')");
    await client.query("SELECT pg_backup_start('operon-failover-test', true)");
    const skip = new Set(['postmaster.pid', 'postmaster.opts']);
    cpSync(from.dataDir, dataDir, {
      recursive: true,
      filter: (source) => {
        const relative = source.slice(from.dataDir.length + 1);
        if (skip.has(relative)) return false;
        // WAL and slots are the primary's own: the replica streams the WAL it needs.
        return !/^(pg_wal|pg_replslot)\/./.test(relative);
      },
    });
    const { rows } = await client.query<{ labelfile: string; spcmapfile: string | null }>('SELECT labelfile, spcmapfile FROM pg_backup_stop(false)');
    writeFileSync(join(dataDir, 'backup_label'), rows[0]!.labelfile);
    if (rows[0]!.spcmapfile) writeFileSync(join(dataDir, 'tablespace_map'), rows[0]!.spcmapfile);
  } finally {
    await client.end();
  }
  writeFileSync(join(dataDir, 'standby.signal'), '');
  appendFileSync(
    join(dataDir, 'postgresql.auto.conf'),
    `primary_conninfo = 'host=${from.host} port=${from.port} user=${from.user} password=${password} application_name=operon_replica'\n` +
      "primary_slot_name = 'operon_replica'\n",
  );
  const ids = postgresIds();
  chmodSync(dataDir, 0o700);
  if (ids) chownTree(dataDir, ids);
  return startEmbeddedPostgres({ dataDir, port: await freePort(), password });
}

beforeAll(async () => {
  primary = await startEmbeddedPostgres({
    dataDir: join(root, 'primary', 'pgdata'),
    port: await freePort(),
    password,
    // A commit is acknowledged only once the replica has it on disk: what promotion may not lose.
    settings: { synchronous_standby_names: "'operon_replica'", synchronous_commit: "'on'", wal_level: "'replica'" },
  });
  servers.push(primary);
  replica = await makeReplica(primary);
  servers.push(replica);
});

afterAll(async () => {
  for (const server of servers) await server.stop().catch(() => undefined);
  rmSync(root, { recursive: true, force: true });
});

/** Kills the server as a dying machine would: the postmaster and every backend at once. */
function killServer(server: EmbeddedPostgres): void {
  const postmaster = Number(readFileSync(join(server.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  let children: number[] = [];
  try {
    children = execFileSync('pgrep', ['-P', String(postmaster)], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
  } catch {
    // pgrep exits 1 when there are none.
  }
  for (const pid of [postmaster, ...children]) process.kill(pid, 'SIGKILL');
}

it('loses and repeats no workflow when the primary dies and its synchronous replica is promoted under load', async () => {
  const proxy = new PostgresProxy({ host: primary!.host, port: primary!.port });
  const port = await proxy.listen();
  const input = {
    database: { hostname: '127.0.0.1', port, username: 'postgres', password, user_database: 'failover_app', system_database: 'failover_sys', connectionTimeoutMillis: 1_000 },
    telemetry: { logs: { logLevel: 'error' } },
  };
  const config = resolveConfig(input, { file: '', appDir: process.cwd(), env: { ...process.env, OPERON_EXECUTOR_ID: 'failover' } });
  const runtime = await OperonRuntime.create({ config, classes: [Orders], logger: createLogger('error') });
  const acknowledged: string[] = [];
  const results = new Map<string, Promise<unknown>>();
  let stop = false;
  let failedAt = 0;
  let promotedAt = 0;
  let firstEndAfterFailover = 0;
  try {
    await runtime.appPool.query('CREATE TABLE failover_orders (id BIGSERIAL PRIMARY KEY, workflow_uuid TEXT NOT NULL, n INT NOT NULL)');
    await runtime.recover();
    let next = 0;
    const producer = async () => {
      while (!stop) {
        const n = next++;
        const uuid = `failover-${n}`;
        try {
          const handle = await runtime.client.invoke(Orders, { workflowUUID: uuid }).order(n);
          acknowledged.push(uuid);
          results.set(
            uuid,
            handle.getResult().then((value) => {
              if (promotedAt && !firstEndAfterFailover) firstEndAfterFailover = Date.now();
              return value;
            }),
          );
        } catch {
          // A start the failover refused: the caller was told, and retries it with the same UUID.
          if (!stop) await runtime.client.invoke(Orders, { workflowUUID: uuid }).order(n).then(
            (handle) => {
              acknowledged.push(uuid);
              results.set(uuid, handle.getResult());
            },
            () => undefined,
          );
        }
      }
    };
    const producers = Array.from({ length: 8 }, producer);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const before = acknowledged.length;

    // The failover: the primary dies as a machine would, the replica takes over, the name moves.
    failedAt = Date.now();
    killServer(primary!);
    const promote = await superuser(replica!);
    try {
      await promote.query('SELECT pg_promote(true, 30)');
      // It inherited the primary's settings, and would wait for a standby of its own at every commit.
      await promote.query("ALTER SYSTEM SET synchronous_standby_names = ''");
      await promote.query('SELECT pg_reload_conf()');
    } finally {
      await promote.end();
    }
    proxy.retarget({ host: replica!.host, port: replica!.port });
    promotedAt = Date.now();

    await new Promise((resolve) => setTimeout(resolve, 3_000));
    stop = true;
    await Promise.all(producers);
    const outcomes = await Promise.all([...results.entries()].map(async ([uuid, result]) => [uuid, await result] as const));
    const resumedMs = firstEndAfterFailover - failedAt;
    console.log(
      `failover under load: ${acknowledged.length} workflows acknowledged (${before} before the primary died), ` +
        `promotion took ${promotedAt - failedAt} ms, first workflow ended ${resumedMs} ms after the primary died (${firstEndAfterFailover - promotedAt} ms after the name moved)`,
    );
    expect(acknowledged.length).toBeGreaterThan(before);
    expect(outcomes.every(([, value]) => typeof value === 'string' && value.startsWith('confirmed '))).toBe(true);

    const rows = (await runtime.appPool.query<{ workflow_uuid: string; n: string }>('SELECT workflow_uuid, count(*) AS n FROM failover_orders GROUP BY workflow_uuid')).rows;
    const counts = new Map(rows.map((r) => [r.workflow_uuid, Number(r.n)]));
    // Nothing lost: every acknowledged workflow placed its order; nothing repeated: exactly once.
    expect(acknowledged.filter((uuid) => counts.get(uuid) !== 1)).toEqual([]);
    expect([...counts.values()].filter((n) => n !== 1)).toEqual([]);
    const statuses = (await runtime.systemDb.systemPool.query<{ status: string; n: string }>(
      "SELECT status, count(*) AS n FROM operon.workflow_status WHERE workflow_uuid LIKE 'failover-%' GROUP BY status",
    )).rows;
    expect(statuses.map((s) => s.status)).toEqual(['SUCCESS']);
  } finally {
    stop = true;
    await runtime.destroy({ timeoutMs: 1_000 });
    await proxy.close();
  }
});
