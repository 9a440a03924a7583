/**
 * Regression: a fork copied the original's committed transaction outputs into the app database
 * under the new UUID first, and created the new workflow in the system database after. In
 * between, the UUID was free there:
 *
 * - a client start of a workflow under that UUID slipped in and replayed the copied outputs as its
 *   own (and the fork then lost with a 409);
 * - a fork that died there (its connections cut, so its clean-up could not run either) left the
 *   copied outputs behind, and a later start or fork into that UUID replayed them.
 *
 * Expected: the fork and a start into one UUID have exactly one winner, and the workflow under it
 * runs either the fork's records or its own, never a mix; a fork cut at any of its statements
 * leaves either nothing or a whole fork.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpServer, type OperonRuntime } from '@operon/runtime';
import { runtimeBehindProxy, type CuttableProxy, type RuntimeBehindProxy } from '../helpers/cuttable-proxy.js';
import { authorizedPost, type HttpServer } from '../helpers/management-requests.js';
import { Ledger, forkOf } from '../helpers/stamped-ledger.js';
import { connectTo, query } from '../helpers/test-databases.js';

const TOKEN = 'a-token-for-the-fork-races-test';

let behind: RuntimeBehindProxy;
let proxy: CuttableProxy;
let runtime: OperonRuntime;
let app: HttpServer;
let sysDb: string;
let appDb: string;

function fork(source: string, fromStep: number, target: string) {
  return authorizedPost(app, TOKEN)(`/operon/workflows/${source}/fork`, { fromStep, workflowUUID: target });
}

/** A fork as a client retries it: again while the server answers 5xx (a pooled connection the cut left dead). */
async function forkUntilAnswered(source: string, fromStep: number, target: string) {
  for (let attempt = 1; ; attempt++) {
    const answer = await fork(source, fromStep, target);
    if (answer.statusCode < 500 || attempt === 10) return answer;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A client start of `book(tag)` under `target`, and what that workflow returns. */
async function start(tag: string, target: string): Promise<string[]> {
  return (await runtime.client.invoke(Ledger, { workflowUUID: target }).book(tag)).getResult();
}

/**
 * A start of `book('z')` under `target` after (or while) a fork of x into it: it runs z's own
 * records, or (the fork has the UUID) it is refused, as a start with other inputs under a taken
 * UUID is, and the workflow there runs the fork's records.
 */
async function expectOneWinner(started: Promise<string[]>, target: string, fromStep: number): Promise<'fork' | 'start'> {
  const outcome = await started.then((result) => ({ result }), (error: { code?: string }) => ({ refused: error.code }));
  if ((await tagOf(target)) === 'x') {
    expect(outcome).toEqual({ refused: 'OPERON_ERR_WORKFLOW_CONFLICT' });
    await expect(runtime.client.retrieveWorkflow<string[]>(target).getResult()).resolves.toEqual(forkOf('x', fromStep, target));
    return 'fork';
  }
  expect(outcome).toEqual({ result: ['z0', 'z1', 'z2'].map((v) => `${v}@${target}`) });
  return 'start';
}

/** The inputs the workflow under `uuid` was created with: a fork of x has x's, a start of z has z's. */
async function tagOf(uuid: string): Promise<string | undefined> {
  const rows = await query<{ inputs: string }>(sysDb, 'SELECT inputs FROM operon.workflow_status WHERE workflow_uuid = $1', [uuid]);
  return rows[0] === undefined ? undefined : (JSON.parse(rows[0].inputs) as unknown[])[0] as string;
}

beforeAll(async () => {
  behind = await runtimeBehindProxy([Ledger], 'fork_races', 1_000, { management: { token: TOKEN }, telemetry: { logs: { logLevel: 'silent' } } });
  ({ runtime, proxy } = behind);
  sysDb = runtime.config.database.system_database;
  appDb = runtime.config.database.user_database;
  app = await createHttpServer(runtime);
  expect(await start('x', 'x')).toEqual(['x0@x', 'x1@x', 'x2@x']);
});

afterAll(async () => {
  await app?.close();
  await behind?.close();
});

describe('a start and a fork into one UUID', () => {
  it('while the fork is under way: one of them wins, and the workflow runs only its records', { timeout: 30_000 }, async () => {
    // Holds the fork's system statement (it writes the audit entry) while a start goes on.
    const blocker = await connectTo(sysDb);
    try {
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE operon.audit_log IN EXCLUSIVE MODE');
      const forked = fork('x', 2, 'raced');
      for (let i = 0; i < 500; i++) {
        const { rows } = await blocker.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`);
        if (rows[0].n > 0) break;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const started = start('z', 'raced');
      // The start may go on without the fork (it won) or wait for the fork's result (the fork won).
      await Promise.race([started, new Promise((resolve) => setTimeout(resolve, 1_000))]);
      await blocker.query('ROLLBACK');
      const winner = await expectOneWinner(started, 'raced', 2);
      const answer = await forked;
      expect(answer.statusCode, answer.body).toBe(winner === 'fork' ? 200 : 409);
    } finally {
      await blocker.end();
    }
  });

  it('after the fork: a start of other inputs is refused, one of the same inputs gets the fork', async () => {
    expect((await fork('x', 1, 'forked-first')).statusCode).toBe(200);
    expect(await expectOneWinner(start('z', 'forked-first'), 'forked-first', 1)).toBe('fork');
    expect(await start('x', 'forked-first')).toEqual(forkOf('x', 1, 'forked-first'));
  });
});

/** The statements of a fork (and of its adoption) to cut, each by text only it sends. */
const CUT_POINTS: Array<{ at: string; marker: string }> = [
  { at: 'the fork\'s statement', marker: 'INSERT INTO operon.fork_copies' },
  { at: 'the adopter\'s copy of transaction outputs', marker: 'FOR SHARE OF o' },
  { at: 'the adopter\'s deletion of the fork\'s note', marker: 'DELETE FROM operon.fork_copies' },
];

describe('a fork cut at one of its statements (its clean-up cut off too)', () => {
  for (const [n, { at, marker }] of CUT_POINTS.entries()) {
    it(`at ${at}: a later start, the same fork again or another fork into that UUID runs whole records, its own or the cut fork's`, { timeout: 60_000 }, async () => {
      for (const later of ['start', 'fork'] as const) {
        const target = `cut-${n}-${later}`;
        const cut = proxy.loseNextCommitAnswer({ marker, timeoutMs: 5_000 });
        const forked = fork('x', 2, target);
        expect(await cut, `nothing sent ${marker}`).toBeDefined();
        // The fork's process is as good as gone: nothing more it sends arrives.
        proxy.cutAll();
        await forked;
        proxy.restore();
        if (later === 'start') {
          await expectOneWinner(start('z', target), target, 2);
        } else {
          // The same fork again: made now, or (the cut one was made) answered with it.
          const again = await forkUntilAnswered('x', 2, target);
          expect(again.statusCode, again.body).toBe(200);
          expect(again.json()).toEqual({ workflowUUID: target });
          await expect(runtime.client.retrieveWorkflow<string[]>(target).getResult()).resolves.toEqual(forkOf('x', 2, target));
          // A fork from another step into it is refused, and what runs there stays the first fork.
          const other = await forkUntilAnswered('x', 1, target);
          expect(other.statusCode, other.body).toBe(409);
          expect(other.json().error).toBe(`workflow UUID ${target} is taken: a fork creates a new workflow, so give it a UUID no workflow has (the very same fork again is answered with the workflow it made)`);
        }
      }
    });
  }
});

describe('forks from different steps of one source at once', () => {
  it('into one UUID: one wins and the workflow replays exactly its prefix', { timeout: 30_000 }, async () => {
    for (let round = 0; round < 3; round++) {
      const target = `rebooked-${round}`;
      const answers = await Promise.all([fork('x', 1, target), fork('x', 2, target)]);
      expect(answers.map((a) => a.statusCode).sort()).toEqual([200, 409]);
      const fromStep = answers[0]!.statusCode === 200 ? 1 : 2;
      await expect(runtime.client.retrieveWorkflow<string[]>(target).getResult()).resolves.toEqual(forkOf('x', fromStep, target));
    }
  });

  it('into different UUIDs: each replays exactly its own prefix', async () => {
    const answers = await Promise.all([0, 1, 2, 3].map((fromStep) => fork('x', fromStep, `apart-${fromStep}`)));
    expect(answers.map((a) => a.statusCode)).toEqual([200, 200, 200, 200]);
    for (const fromStep of [0, 1, 2, 3]) {
      await expect(runtime.client.retrieveWorkflow<string[]>(`apart-${fromStep}`).getResult()).resolves.toEqual(forkOf('x', fromStep, `apart-${fromStep}`));
    }
  });
});

it('outputs left under a UUID by an earlier fork that died (before forks noted them) are not replayed by a fork into it', async () => {
  await query(appDb, `INSERT INTO operon.transaction_outputs (workflow_uuid, function_id, function_name, output, created_at) VALUES ('reused', 1, 'Ledger.write', '"stale1@x"', 0), ('reused', 2, 'Ledger.write', '"stale2@x"', 0)`);
  expect((await fork('x', 2, 'reused')).statusCode).toBe(200);
  await expect(runtime.client.retrieveWorkflow<string[]>('reused').getResult()).resolves.toEqual(forkOf('x', 2, 'reused'));
});
