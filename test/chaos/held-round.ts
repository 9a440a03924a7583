/**
 * The held round, after the load: values workflows and fan-outs are started so that each parks at
 * a wait (a recv of a release message the harness has not sent); once all of them are parked,
 * every runtime is SIGKILLed and all are started again at once, so their recovery (racing for
 * the same dead executors' workflows) re-runs every one of them from its records up to that wait;
 * then the harness releases them. Each finishes in a recovered run,
 * which the values and fan-out checks then judge (same inputs as the first run, every operation
 * its own result). Random SIGKILLs during the load hit such moments only by chance; this does on
 * purpose.
 */
import type { AdoptionWatch } from './adoption-watch.js';
import type { FanoutWorkload } from './fanout-workload.js';
import type { PostgresServer } from './postgres-server.js';
import type { RuntimeFleet } from './runtime-fleet.js';
import type { Timeline } from './timeline.js';
import type { ValuesWorkload } from './values-workload.js';

export interface HeldRound {
  /** Workflows that were parked when the server was killed. */
  readonly parked: number;
  readonly problems: readonly string[];
}

const PARK_WAIT_MS = 30_000;
/** The held workflows' requests are retried (through the kill) for this long. */
const GIVE_UP_MS = 120_000;
/** After the last transaction of a held fan-out, its short operations (at most 1 s) finish before the kill. */
const SETTLE_MS = 1_500;

export async function heldRound(options: {
  readonly timeline: Timeline;
  readonly fleet: RuntimeFleet;
  readonly watch: AdoptionWatch;
  readonly postgres: PostgresServer;
  readonly values: ValuesWorkload;
  readonly fanout: FanoutWorkload;
  readonly valueCount: number;
  readonly fanoutCount: number;
}): Promise<HeldRound> {
  const { timeline, fleet, watch, postgres, values, fanout } = options;
  timeline.log(`held round: ${options.valueCount} values workflows and ${options.fanoutCount} fan-outs park at a wait; every runtime is then SIGKILLed under them`);
  const giveUpAt = timeline.now() + GIVE_UP_MS;
  const heldValues = values.startHeld(options.valueCount, giveUpAt);
  const heldFanouts = fanout.startHeld(options.fanoutCount, giveUpAt);
  const total = heldValues.length + heldFanouts.length;
  const until = timeline.now() + PARK_WAIT_MS;
  let parked = 0;
  while (timeline.now() < until) {
    parked = await Promise.all([values.parked(postgres, heldValues), fanout.parked(postgres, heldFanouts)]).then(([v, f]) => v + f, () => parked);
    if (parked === total) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const problems: string[] = [];
  if (parked < total) problems.push(`held round: only ${parked} of ${total} workflows reached their wait within ${PARK_WAIT_MS} ms`);
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  timeline.log(`held round: ${parked} of ${total} parked; SIGKILL ${fleet.runtimes.map((r) => `${r.name} (pid ${r.pid})`).join(', ')}`);
  const notes = await Promise.all(fleet.runtimes.map((r) => watch.note(r.name, 'heldRound', r.pid)));
  await fleet.killAll();
  for (const note of notes) watch.died(note);
  await fleet.startAll();
  timeline.log('held round: every runtime is serving again; releasing the held workflows');
  await Promise.all([values.release(heldValues), fanout.release(heldFanouts)]);
  return { parked, problems };
}
