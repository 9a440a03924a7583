/**
 * The value codecs side by side: Operon's stored-value codec, superjson, devalue, v8.serialize and
 * plain JSON. Prints a fidelity table over every kind of value the contract lists and the round
 * trip time of a ~15 KB payload with Maps, Sets and BigInts (and of a plain JSON payload), each
 * the least CPU time of several timed rounds, with each codec's ratio to Operon's measured in this run.
 *
 *   pnpm bench:values            (or: pnpm --filter @operon/bench run values)
 */
import { inspect } from 'node:util';
import v8 from 'node:v8';
import * as devalue from 'devalue';
import SuperJSON from 'superjson';
import { registerSerializableClass } from '@operon/sdk';
import { decodeStoredValue, encodeStoredValue } from '@operon/runtime';
import { round } from './stats.js';

class Money {
  constructor(
    readonly cents: bigint,
    readonly currency: string,
  ) {}
}
class PaymentDeclined extends Error {
  constructor(
    message: string,
    readonly account: string,
  ) {
    super(message);
    this.name = 'PaymentDeclined';
  }
}
registerSerializableClass(Money);
registerSerializableClass(PaymentDeclined);
SuperJSON.registerClass(Money);
SuperJSON.registerClass(PaymentDeclined);
// superjson keeps only name and message of an error unless told which props to keep.
SuperJSON.allowErrorProps('stack', 'cause', 'account');

interface Codec {
  readonly name: string;
  /** Whether the stored form is JSON an operator can query in SQL (`output::jsonb -> 'field'`). */
  readonly queryableJson: string;
  roundTrip(value: unknown): unknown;
}

const devalueReducers = { Money: (v: unknown) => v instanceof Money && [v.cents, v.currency] };
const devalueRevivers = { Money: ([cents, currency]: [bigint, string]) => new Money(cents, currency) };

const CODECS: Codec[] = [
  { name: 'operon', queryableJson: 'yes', roundTrip: (v) => decodeStoredValue(encodeStoredValue(v, 'value', 'the bench value')) },
  { name: 'superjson', queryableJson: 'yes', roundTrip: (v) => SuperJSON.parse(SuperJSON.stringify(v)) },
  { name: 'devalue', queryableJson: 'no (an index table)', roundTrip: (v) => devalue.parse(devalue.stringify(v, devalueReducers), devalueRevivers) },
  { name: 'v8', queryableJson: 'no (binary)', roundTrip: (v) => v8.deserialize(v8.serialize(v)) },
  { name: 'JSON', queryableJson: 'yes', roundTrip: (v) => JSON.parse(JSON.stringify(v) ?? 'null') },
];

const show = (v: unknown) => inspect(v, { depth: null, sorted: true, breakLength: Number.POSITIVE_INFINITY });

function declined(): PaymentDeclined {
  const error = new PaymentDeclined('declined', 'acct-9');
  (error as { cause?: unknown }).cause = new RangeError('limit');
  return error;
}

/** Each case: a value, and whether what came back is it. */
const CASES: [string, () => unknown, (back: unknown, sent: unknown) => boolean][] = [
  ['Date', () => new Date(1e12), (b, s) => b instanceof Date && b.getTime() === (s as Date).getTime()],
  ['Map', () => new Map<unknown, unknown>([['a', 1], [2, 'b']]), (b, s) => show(b) === show(s)],
  ['Set', () => new Set([1, 'x']), (b, s) => show(b) === show(s)],
  ['BigInt', () => 2n ** 70n, (b, s) => b === s],
  ['undefined (top level)', () => undefined, (b) => b === undefined],
  ['undefined (in an object)', () => ({ a: undefined }), (b) => typeof b === 'object' && b !== null && 'a' in b],
  ['undefined (in an array)', () => [1, undefined], (b) => Array.isArray(b) && b.length === 2 && b[1] === undefined],
  ['NaN', () => Number.NaN, (b) => Number.isNaN(b)],
  ['±Infinity', () => [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY], (b, s) => show(b) === show(s)],
  ['-0', () => -0, (b) => Object.is(b, -0)],
  ['RegExp', () => /a+b/giu, (b) => b instanceof RegExp && b.source === 'a+b' && b.flags === 'giu'],
  ['typed arrays', () => [new Uint8Array([1, 255]), new Float64Array([0.5]), new BigInt64Array([-1n])], (b, s) => show(b) === show(s)],
  ['Buffer', () => Buffer.from('hi'), (b) => Buffer.isBuffer(b) && b.toString() === 'hi'],
  ['shared reference', () => { const o = { x: 1 }; return [o, o]; }, (b) => Array.isArray(b) && b[0] === b[1] && typeof b[0] === 'object'],
  ['circular reference', () => { const o: Record<string, unknown> = {}; o.self = o; return o; }, (b) => (b as Record<string, unknown>)?.self === b],
  ['error class name', declined, (b) => b instanceof PaymentDeclined],
  ['error message', declined, (b) => (b as Error)?.message === 'declined'],
  ['error stack', declined, (b, s) => (b as Error)?.stack === (s as Error).stack],
  ['error cause', declined, (b) => (b as Error)?.cause instanceof RangeError],
  ['error own property', declined, (b) => (b as PaymentDeclined)?.account === 'acct-9'],
  ['registered class', () => new Money(5n, 'EUR'), (b) => b instanceof Money && b.cents === 5n],
];

function fidelity(): void {
  const rows = CASES.map(([name, make, ok]) => {
    const cells = CODECS.map((codec) => {
      const sent = make();
      try {
        return ok(codec.roundTrip(sent), sent) ? 'yes' : 'no';
      } catch {
        return 'throws';
      }
    });
    return [name, ...cells];
  });
  rows.push(['queryable JSON text', ...CODECS.map((c) => c.queryableJson)]);
  const kept = CODECS.map((_, i) => rows.slice(0, CASES.length).filter((r) => r[i + 1] === 'yes').length);
  rows.push([`cases kept (of ${CASES.length})`, ...kept.map(String)]);
  printTable(['case', ...CODECS.map((c) => c.name)], rows);
}

/** ~15 KB once stored: orders with BigInt ids, Sets of tags, Maps of attributes, Dates. */
function richPayload(): unknown {
  const orders = [];
  for (let i = 0; i < 43; i++) {
    orders.push({
      id: BigInt(i) * 1_000_000_007n,
      sku: `sku-${i}`,
      tags: new Set([`t${i}`, 'rush', 'gift']),
      attributes: new Map<string, unknown>([['color', 'blue'], ['size', i], ['note', 'left at the door, ring twice please']]),
      placedAt: new Date(1_700_000_000_000 + i * 60_000),
      lines: [{ qty: i % 3, price: 12.5 }, { qty: 1, price: 3 }],
    });
  }
  return { customer: 'acct-9', total: 123_456_789_012_345_678n, orders };
}

/** The same shape in plain JSON (strings for BigInts, arrays for Sets, objects for Maps). */
function plainPayload(): unknown {
  return JSON.parse(JSON.stringify(richPayload(), (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v instanceof Set ? [...v] : v instanceof Map ? Object.fromEntries(v) : v)));
}

/** Timed rounds of each codec and their calls: many short rounds, taken in turn (see `times`). */
const ROUNDS = 60;
const CALLS_PER_ROUND = 50;

/**
 * Microseconds of this process's CPU time per call of each of `runs`: the least over `rounds`
 * rounds of `perRound` calls each, the runs taking turns round by round. CPU time, not wall time,
 * and the least, not the median: on a shared machine the time of a round is mostly how often other
 * processes took the core; short rounds taken in turn give each run the same chances of a quiet one.
 */
function times(runs: (() => void)[], rounds = ROUNDS, perRound = CALLS_PER_ROUND): number[] {
  for (const run of runs) for (let i = 0; i < perRound * 4; i++) run();
  const least = runs.map(() => Number.POSITIVE_INFINITY);
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < runs.length; k++) {
      const run = runs[k]!;
      const start = process.cpuUsage();
      for (let i = 0; i < perRound; i++) run();
      const used = process.cpuUsage(start);
      least[k] = Math.min(least[k]!, (used.user + used.system) / perRound);
    }
  }
  return least;
}

/** Whether a codec round-trips `value` (JSON cannot hold a BigInt: it has no figure for the rich payload). */
function holds(codec: Codec, value: unknown): boolean {
  try {
    codec.roundTrip(value);
    return codec.name !== 'JSON';
  } catch {
    return false;
  }
}

function speed(): void {
  const rich = richPayload();
  const plain = plainPayload();
  const storedBytes = Buffer.byteLength(encodeStoredValue(rich, 'value', 'the bench value'));
  const plainBytes = Buffer.byteLength(JSON.stringify(plain));
  const rows: string[][] = [];
  const figures: Record<string, { rich?: number; plain: number }> = {};
  const runs: { codec: Codec; payload: 'rich' | 'plain'; run: () => void }[] = [];
  for (const codec of CODECS) {
    if (holds(codec, rich)) runs.push({ codec, payload: 'rich', run: () => codec.roundTrip(rich) });
    runs.push({ codec, payload: 'plain', run: () => codec.roundTrip(plain) });
  }
  const least = times(runs.map((r) => r.run));
  runs.forEach(({ codec, payload }, i) => {
    const f = (figures[codec.name] ??= { plain: 0 });
    f[payload] = least[i]!;
  });
  const base = figures.operon!;
  for (const codec of CODECS) {
    const f = figures[codec.name]!;
    rows.push([
      codec.name,
      f.rich === undefined ? 'n/a' : `${round(f.rich, 1)}`,
      f.rich === undefined ? 'n/a' : `${round(f.rich / base.rich!, 2)}x`,
      `${round(f.plain, 1)}`,
      `${round(f.plain / base.plain, 2)}x`,
    ]);
  }
  console.log(`\nround trip (encode + decode), CPU us, least of ${ROUNDS} rounds of ${CALLS_PER_ROUND} (the codecs taking turns); rich payload ${storedBytes} bytes stored by operon, plain payload ${plainBytes} bytes of JSON\n`);
  printTable(['codec', 'rich us', 'vs operon', 'plain us', 'vs operon'], rows);
  const limitUs = 250;
  console.log(`\noperon rich round trip ${round(base.rich!, 1)} us (limit ${limitUs} us): ${base.rich! <= limitUs ? 'within' : 'OVER'}`);
  console.log(`BENCH-VALUES ${JSON.stringify({ storedBytes, plainBytes, figures })}`);
}

/**
 * The values one W3 workflow stores and reads back (its inputs, three step outputs, its output),
 * through Operon's codec and through plain JSON (what every value was before the codec): the
 * codec's cost per W3 workflow, to set beside a W3 workflow's own time (`pnpm bench`).
 */
function w3Values(): void {
  const outputs = [{ step: 'one', input: 41 }, { step: 'two', input: 42 }, { step: 'three', input: 43 }];
  const values: unknown[] = [[42], ...outputs, outputs];
  const perWorkflow = (codec: Codec) => () => {
    for (const v of values) codec.roundTrip(v);
  };
  const [operon, json] = times([perWorkflow(CODECS[0]!), perWorkflow(CODECS[CODECS.length - 1]!)], ROUNDS, 1000) as [number, number];
  console.log(`\nW3's values per workflow (inputs, 3 step outputs, output; encode + decode), CPU us: operon ${round(operon, 2)}, plain JSON ${round(json, 2)}, codec's extra ${round(operon - json, 2)} us a workflow`);
  console.log(`BENCH-VALUES-W3 ${JSON.stringify({ operon, json })}`);
}

function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(line(header));
  console.log(`| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`);
  for (const row of rows) console.log(line(row));
}

fidelity();
speed();
w3Values();
