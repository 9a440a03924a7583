/**
 * The concurrency workload: fan-outs of the app's `ChaosFanout.fanout` (app/src/fanout.ts), each
 * 10 to 16 operations of every kind in one `Promise.all`, in an order drawn from the seed. Some
 * are held (one operation waits for a message the harness sends only after it has SIGKILLed the
 * server under them), so their re-run replays every other operation from its record. At the end:
 *  - every operation got its own result (a transaction its tag, a recv its message or null, a
 *    sleep nothing, a child its result…), never another operation's record or a recv's deadline;
 *  - each transaction of a fan-out wrote its row exactly once;
 *  - a child enqueue refused for its deduplicationID (before the fan-out) stays refused on a
 *    re-run after the id was freed: the report, the event the first run set and the children on
 *    the queue agree;
 *  - every client got its fan-out's report.
 */
import { APP_DATABASE, SYSTEM_DATABASE } from './app-folder.js';
import type { CarefulClient } from './careful-client.js';
import type { PostgresServer } from './postgres-server.js';
import type { SeededRandom } from './seeded-random.js';
import type { Timeline } from './timeline.js';
import { LoopingWorkload, answerProblem, capped, json, type Answer, type WorkloadCheck } from './workload.js';
import { DEDUP_ENQUEUED, DEDUP_EVENT, DEDUP_QUEUE, HELD_TOPIC, expectedSlotResult, heldMessage, type FanoutReport, type FanoutSlot } from './app/src/fanout-slots.js';
import { groupBy } from './ledger-workload.js';

export interface SentFanout {
  readonly fanoutId: string;
  readonly slots: readonly FanoutSlot[];
  readonly workflowUUID: string;
  readonly held: boolean;
  answer?: Answer<FanoutReport>;
}

export interface FanoutWriteRow {
  readonly fanout_id: string;
  readonly slot: number;
  readonly workflow_uuid: string;
}

/** A fan-out's two child enqueues under one deduplicationID, as the system database has them. */
export interface DedupRecord {
  /** What the first run recorded the second enqueue got (the event's value). */
  readonly recorded: unknown;
  /** How many children the fan-out has on the dedup queue (1 when the second was refused). */
  readonly children: number;
}

/** Every fan-out has at least one of each of these, then more drawn at random. */
const ALWAYS: readonly FanoutSlot['kind'][] = ['tx', 'comm', 'recvNone', 'getEventNone', 'sleep', 'child', 'send', 'dedupChild'];
const MORE: readonly FanoutSlot['kind'][] = ['tx', 'tx', 'readTx', 'comm', 'comm', 'recvNone', 'getEventSet', 'getEventNone', 'sleep', 'child', 'startChild', 'send'];

export class FanoutWorkload extends LoopingWorkload {
  readonly name = 'fanout';
  readonly fanouts: SentFanout[] = [];

  constructor(
    client: CarefulClient,
    timeline: Timeline,
    private readonly rng: SeededRandom,
    loops: number,
    maxRuns: number,
  ) {
    super(client, timeline, loops, maxRuns);
  }

  protected get runs(): number {
    return this.fanouts.length;
  }

  protected runOne(): Promise<void> {
    return this.send(false);
  }

  /** Starts `count` held fan-outs (outside the loops), retried until `giveUpAtMs`; they wait for {@link release}. */
  startHeld(count: number, giveUpAtMs: number): SentFanout[] {
    const before = this.fanouts.length;
    for (let i = 0; i < count; i++) void this.track(() => this.send(true), giveUpAtMs);
    return this.fanouts.slice(before);
  }

  /** How many of these fan-outs have written every row their transactions write (they then wait at their held recv). */
  async parked(postgres: PostgresServer, fanouts: readonly SentFanout[]): Promise<number> {
    const rows = await postgres.query<{ fanout_id: string; n: number }>(
      APP_DATABASE,
      'SELECT fanout_id, count(DISTINCT slot)::int AS n FROM chaos_fanout_writes WHERE fanout_id = ANY($1) GROUP BY fanout_id',
      [fanouts.map((f) => f.fanoutId)],
    );
    const written = new Map(rows.map((r) => [r.fanout_id, r.n]));
    return fanouts.filter((f) => (written.get(f.fanoutId) ?? 0) >= f.slots.filter((s) => s.kind === 'tx').length).length;
  }

  /** Sends each held fan-out the message its held recv waits for (keyed: once however often retried). */
  async release(fanouts: readonly SentFanout[]): Promise<void> {
    await Promise.all(
      fanouts.map((f) =>
        this.post({
          path: '/messages',
          body: { destination: f.workflowUUID, topic: HELD_TOPIC, message: heldMessage(f.fanoutId), key: `held:${f.workflowUUID}` },
          user: 'harness',
          what: `release of ${f.fanoutId}`,
        }),
      ),
    );
  }

  private async send(held: boolean): Promise<void> {
    const fanout: SentFanout = {
      fanoutId: `fanout-${this.rng.seed}-${this.fanouts.length}`,
      slots: drawSlots(this.rng, held),
      workflowUUID: this.rng.uuid(),
      held,
    };
    this.fanouts.push(fanout);
    fanout.answer = await this.post<FanoutReport>({
      path: '/fanouts',
      body: { fanoutId: fanout.fanoutId, slots: fanout.slots },
      workflowUUID: fanout.workflowUUID,
      user: 'fanout',
      what: fanout.fanoutId,
    });
  }

  async check(postgres: PostgresServer): Promise<WorkloadCheck> {
    const rows = await postgres.query<FanoutWriteRow>(APP_DATABASE, 'SELECT fanout_id, slot, workflow_uuid FROM chaos_fanout_writes');
    const dedup = await postgres.query<{ workflow_uuid: string; value: string | null; children: number }>(
      SYSTEM_DATABASE,
      `SELECT e.workflow_uuid, e.value, (SELECT count(*)::int FROM operon.workflow_status c WHERE c.parent_uuid = e.workflow_uuid AND c.queue_name = $2) AS children
       FROM operon.workflow_events e WHERE e.key = $1`,
      [DEDUP_EVENT, DEDUP_QUEUE],
    );
    const parse = (text: string | null) => {
      try {
        return text === null ? null : (JSON.parse(text) as unknown);
      } catch {
        return text;
      }
    };
    return checkFanouts(this.fanouts, rows, new Map(dedup.map((d) => [d.workflow_uuid, { recorded: parse(d.value), children: d.children }])));
  }
}

/** 10 to 16 operations: one of each kind that must always be there, then random ones, shuffled; sends paired with recvs. */
export function drawSlots(rng: SeededRandom, held: boolean): FanoutSlot[] {
  const kinds = [...ALWAYS];
  for (let n = rng.int(10, 16) - kinds.length - (held ? 1 : 0); n > 0; n--) kinds.push(rng.pick(MORE));
  const slots: FanoutSlot[] = [];
  let topics = 0;
  for (const kind of kinds) {
    const seconds = Math.round(rng.int(2, 10)) / 10;
    switch (kind) {
      case 'recvNone':
      case 'getEventNone':
      case 'sleep':
        slots.push({ kind, seconds });
        break;
      case 'send': {
        const topic = `self-${topics++}`;
        slots.push({ kind: 'send', topic }, { kind: 'recvSelf', topic });
        break;
      }
      default:
        slots.push({ kind } as FanoutSlot);
    }
  }
  if (held) slots.push({ kind: 'recvHeld' });
  return rng.shuffle(slots);
}

export function checkFanouts(fanouts: readonly SentFanout[], rows: readonly FanoutWriteRow[], dedup: ReadonlyMap<string, DedupRecord> = new Map()): WorkloadCheck {
  const problems: string[] = [];
  const rowsById = groupBy(rows, (r) => r.fanout_id);
  let operations = 0;
  let wrongResults = 0;
  const sent = new Set<string>();
  for (const fanout of fanouts) {
    sent.add(fanout.fanoutId);
    const name = `fan-out ${fanout.fanoutId}${fanout.held ? ' (held through a SIGKILL)' : ''}`;
    const problem = (text: string) => problems.push(`${name}: ${text}`);
    operations += fanout.slots.length;
    const notOk = answerProblem(fanout.answer);
    if (notOk) problem(notOk);
    else if (fanout.answer && 'ok' in fanout.answer) {
      const results = fanout.answer.ok.results;
      if (!Array.isArray(results) || results.length !== fanout.slots.length) {
        problem(`reported ${Array.isArray(results) ? results.length : json(results)} results for ${fanout.slots.length} operations`);
      } else {
        const recorded = dedup.get(fanout.workflowUUID);
        if (fanout.slots.some((slot) => slot.kind === 'dedupChild')) {
          if (!recorded) problem('has no record of what its second child enqueue under one deduplicationID got');
          else if (recorded.children !== (recorded.recorded === DEDUP_ENQUEUED ? 2 : 1)) {
            problem(`recorded ${json(recorded.recorded)} for its second child enqueue under one deduplicationID, and has ${recorded.children} children on its queue`);
          }
        }
        fanout.slots.forEach((slot, i) => {
          // What the first run recorded the refusable enqueue got is its result on every run (a slow run may have been let in).
          const expected = slot.kind === 'dedupChild' && recorded ? recorded.recorded : expectedSlotResult(fanout.fanoutId, slot, i);
          if (JSON.stringify(results[i]) !== JSON.stringify(expected)) {
            wrongResults++;
            problem(`operation ${i} (${slot.kind}) returned ${json(results[i])}, its own result is ${json(expected)}`);
          }
        });
      }
    }
    const writes = groupBy(rowsById.get(fanout.fanoutId) ?? [], (r) => String(r.slot));
    fanout.slots.forEach((slot, i) => {
      const n = writes.get(String(i))?.length ?? 0;
      if (slot.kind === 'tx' && n !== 1) problem(`the transaction of operation ${i} wrote ${n} rows (exactly one expected)`);
      if (slot.kind !== 'tx' && n !== 0) problem(`operation ${i} (${slot.kind}) has ${n} transaction rows`);
    });
    for (const row of rowsById.get(fanout.fanoutId) ?? []) {
      if (row.workflow_uuid !== fanout.workflowUUID) problem(`a row written by workflow ${row.workflow_uuid}, not ${fanout.workflowUUID}`);
    }
  }
  for (const fanoutId of rowsById.keys()) if (!sent.has(fanoutId)) problems.push(`rows for a fan-out nobody sent: ${json(fanoutId)}`);
  return { runs: fanouts.length, problems: capped(problems), figures: { operations, 'wrong results': wrongResults } };
}
