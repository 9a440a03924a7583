/**
 * The values workload: workflows of `ChaosValues.inspect` (app/src/values.ts) whose inputs are
 * random JSON, nested (hostile strings, `-0`, the largest and smallest doubles, unsafe integers,
 * empty and non-Latin keys, deep chains), plus what the handler adds: a Date, a Map, a Set,
 * `undefined` in an object and an array, NaN, ±Infinity, -0, a RegExp, and an argument left to its
 * parameter default. Some are
 * held (they wait for a release message; the harness SIGKILLs the server while they wait, so
 * they finish in a recovered run). At the end:
 *  - the first run and the run that finished saw the same inputs (equal descriptions), and the
 *    recorded first view is the one the first run wrote, once;
 *  - the JSON value came back as it was sent, and the workflow saw it as sent (or as its JSON
 *    round trip: `-0` may become `0`, nothing else);
 *  - every held workflow really finished in another process than the one that started it.
 */
import { APP_DATABASE } from './app-folder.js';
import type { CarefulClient } from './careful-client.js';
import { HOSTILE_STRINGS } from './order-payloads.js';
import type { PostgresServer } from './postgres-server.js';
import type { SeededRandom } from './seeded-random.js';
import type { Timeline } from './timeline.js';
import { LoopingWorkload, answerProblem, capped, json, type Answer, type WorkloadCheck } from './workload.js';
import { groupBy } from './ledger-workload.js';
import { RELEASE_TOPIC, type ValueReport } from './app/src/value-report.js';
import { describeValue } from './app/src/value-description.js';

export interface SentValue {
  readonly valueId: string;
  readonly value: unknown;
  readonly at: string;
  readonly holdSeconds: number;
  readonly workflowUUID: string;
  answer?: Answer<ValueReport>;
}

export interface ValueViewRow {
  readonly value_id: string;
  readonly seen: string;
}

const HELD_SECONDS = 120;

export class ValuesWorkload extends LoopingWorkload {
  readonly name = 'values';
  readonly values: SentValue[] = [];

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
    return this.values.length;
  }

  protected runOne(): Promise<void> {
    return this.send(0);
  }

  /** Starts `count` held workflows (outside the loops), retried until `giveUpAtMs`; they wait for {@link release}. */
  startHeld(count: number, giveUpAtMs: number): SentValue[] {
    const before = this.values.length;
    for (let i = 0; i < count; i++) void this.track(() => this.send(HELD_SECONDS), giveUpAtMs);
    return this.values.slice(before);
  }

  /** How many of these have recorded their first view (they then wait for their release). */
  async parked(postgres: PostgresServer, values: readonly SentValue[]): Promise<number> {
    const rows = await postgres.query<{ n: number }>(APP_DATABASE, 'SELECT count(DISTINCT value_id)::int AS n FROM chaos_value_views WHERE value_id = ANY($1)', [
      values.map((v) => v.valueId),
    ]);
    return rows[0]?.n ?? 0;
  }

  async release(values: readonly SentValue[]): Promise<void> {
    await Promise.all(
      values.map((v) =>
        this.post({
          path: '/messages',
          body: { destination: v.workflowUUID, topic: RELEASE_TOPIC, message: 'go', key: `release:${v.workflowUUID}` },
          user: 'harness',
          what: `release of ${v.valueId}`,
        }),
      ),
    );
  }

  private async send(holdSeconds: number): Promise<void> {
    const sent: SentValue = {
      valueId: `value-${this.rng.seed}-${this.values.length}`,
      value: randomJson(this.rng, this.rng.int(1, 5)),
      at: new Date(Date.UTC(2000 + this.rng.int(0, 40), this.rng.int(0, 11), this.rng.int(1, 28), this.rng.int(0, 23), this.rng.int(0, 59), this.rng.int(0, 59), this.rng.int(0, 999))).toISOString(),
      holdSeconds,
      workflowUUID: this.rng.uuid(),
    };
    this.values.push(sent);
    sent.answer = await this.post<ValueReport>({
      path: '/values',
      body: { valueId: sent.valueId, value: sent.value, at: sent.at, holdSeconds },
      workflowUUID: sent.workflowUUID,
      user: 'values',
      what: sent.valueId,
    });
  }

  async check(postgres: PostgresServer): Promise<WorkloadCheck> {
    const rows = await postgres.query<ValueViewRow>(APP_DATABASE, 'SELECT value_id, seen FROM chaos_value_views');
    return checkValues(this.values, rows);
  }
}

export function checkValues(values: readonly SentValue[], rows: readonly ValueViewRow[]): WorkloadCheck {
  const problems: string[] = [];
  const views = groupBy(rows, (r) => r.value_id);
  let recovered = 0;
  for (const sent of values) {
    const name = `value ${sent.valueId}${sent.holdSeconds > 0 ? ' (held through a SIGKILL)' : ''}`;
    const problem = (text: string) => problems.push(`${name}: ${text}`);
    const notOk = answerProblem(sent.answer);
    if (notOk) {
      problem(notOk);
      continue;
    }
    const report = (sent.answer as { ok: ValueReport }).ok;
    if (report.firstPid !== report.finalPid) recovered++;
    if (report.firstSeen !== report.seenNow) problem(`the first run and the run that finished saw different inputs: ${firstDifference(report.firstSeen, report.seenNow)}`);
    if (JSON.stringify(report.echo) !== JSON.stringify(sent.value)) problem(`its value came back as ${json(report.echo)}, sent ${json(sent.value)}`);
    const asSent = describeValue(sent.value);
    const roundTrip = describeValue(JSON.parse(JSON.stringify(sent.value)));
    if (report.valueSeen !== asSent && report.valueSeen !== roundTrip) {
      problem(`the workflow saw its value as ${firstDifference(asSent, report.valueSeen)}`);
    }
    const noted = views.get(sent.valueId) ?? [];
    if (noted.length !== 1) problem(`its first view was recorded ${noted.length} times (exactly once expected)`);
    else if (noted[0]!.seen !== report.firstSeen) problem(`the recorded first view differs from the one the workflow read back: ${firstDifference(noted[0]!.seen, report.firstSeen)}`);
    if (sent.holdSeconds > 0 && report.firstPid === report.finalPid) {
      problem(`finished in the process that started it (pid ${report.finalPid}): the SIGKILL did not interrupt it, so its recovery was not tested`);
    }
  }
  return { runs: values.length, problems: capped(problems), figures: { 'finished in a recovered run': recovered } };
}

/** Where two descriptions part, with a little context. */
export function firstDifference(a: string, b: string): string {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  const from = Math.max(0, i - 40);
  return `…${a.slice(from, i + 60)}… vs …${b.slice(from, i + 60)}…`;
}

const NUMBERS = [0, -0, 1, -1, 0.1, -2.5, 3.141592653589793, 1e308, -1e308, 5e-324, 2 ** 53, 2 ** 53 + 2, -(2 ** 31), 2 ** 32, 1e21, 123456789.123];
const KEYS = ['a', 'b', 'value', '', ' ', 'with space', 'x.y', '0', '1e3', '-1', 'null', 'toString', 'hasOwnProperty', '$ref', 'ключ', '名前', '🚀', 'a"b', 'back\\slash'];
const WORDS = ['widget', 'x', 'ünïcödé', '名前', 'مرحبا', '🚀🔥', 'line\nbreak', '\t', '"quoted"', '\\', '\u2028\u2029'];

/** A random JSON value (no `__proto__` or `constructor` keys: the server refuses those on purpose). */
export function randomJson(rng: SeededRandom, depth: number): unknown {
  const roll = rng.next();
  if (depth <= 0 || roll < 0.35) return randomLeaf(rng);
  if (roll < 0.4) {
    // A deep chain.
    let value: unknown = randomLeaf(rng);
    for (let i = rng.int(20, 60); i > 0; i--) value = rng.chance(0.5) ? [value] : { [rng.pick(KEYS)]: value };
    return value;
  }
  if (roll < 0.7) return Array.from({ length: rng.int(0, 6) }, () => randomJson(rng, depth - 1));
  const object: Record<string, unknown> = {};
  for (let i = rng.int(0, 6); i > 0; i--) object[rng.pick(KEYS)] = randomJson(rng, depth - 1);
  return object;
}

function randomLeaf(rng: SeededRandom): unknown {
  switch (rng.int(0, 6)) {
    case 0:
      return rng.pick(NUMBERS);
    case 1:
      return rng.int(-1_000_000, 1_000_000) / rng.pick([1, 10, 1000]);
    case 2:
      return rng.pick(HOSTILE_STRINGS);
    case 3:
      return rng.pick(WORDS).repeat(rng.int(1, 4));
    case 4:
      return rng.chance(0.5);
    case 5:
      return null;
    default:
      return rng.pick([[], {}, '', [[]], [{}]]);
  }
}
