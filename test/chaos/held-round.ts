/**
 * The held round, after the load: values workflows and fan-outs are started so that each parks at
 * a wait (a recv of a release message the harness has not sent); once all of them are parked,
 * `operon start` is SIGKILLed and started again, so its recovery re-runs every one of them from
 * its records up to that wait; then the harness releases them. Each finishes in a recovered run,
 * which the values and fan-out checks then judge (same inputs as the first run, every operation
 * its own result). Random SIGKILLs during the load hit such moments only by chance; this does on
 * purpose.
 */
import type { AppServer } from './app-server.js';
import type { FanoutWorkload } from './fanout-workload.js';
import type { PostgresServer } from './postgres-server.js';
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
  readonly server: AppServer;
  readonly postgres: PostgresServer;
  readonly values: ValuesWorkload;
  readonly fanout: FanoutWorkload;
  readonly valueCount: number;
  readonly fanoutCount: number;
}): Promise<HeldRound> {
  const { timeline, server, postgres, values, fanout } = options;
  timeline.log(`held round: ${options.valueCount} values workflows and ${options.fanoutCount} fan-outs park at a wait; operon start is then SIGKILLed under them`);
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
  timeline.log(`held round: ${parked} of ${total} parked; SIGKILL operon start (pid ${server.pid})`);
  await server.kill();
  await server.start();
  timeline.log('held round: operon start is serving again; releasing the held workflows');
  await Promise.all([values.release(heldValues), fanout.release(heldFanouts)]);
  return { parked, problems };
}
