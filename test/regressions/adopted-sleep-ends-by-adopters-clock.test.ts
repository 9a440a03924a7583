/**
 * An adopted sleep ends by the adopter's clock, not by the time it was meant to last.
 *
 * A sleep records its deadline as epoch milliseconds from the clock of the host that began it
 * (messaging-steps.ts, sleepStep: `Date.now() + durationMs`), and whoever resumes it waits until
 * its own clock reads that number. Leases are judged by the database's clock so that hosts'
 * clocks are never compared, but a deadline moves between hosts with adoption: adopted by a host
 * whose clock runs 60 s ahead, a 20 s sleep ends at once (a workflow meant to wait runs its next
 * step early); by one 60 s behind, it lasts 80 s. recv and getEvent timeouts are recorded the
 * same way. Dating deadlines by the database's clock (or recording the remaining duration with
 * the database's now) would keep them where they were.
 *
 * Reproduction: executor A (true clock) starts 5 workflows that sleep 20 s, then run a
 * communicator; A is SIGKILLed; executor B, whose Date.now() runs 60 s ahead (NODE_OPTIONS
 * --import of a module that shifts it, as a host with a skewed clock), starts and adopts them.
 * Expected: no communicator runs before the 20 s are over.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { allEnded, sideEvents, startExecutor, startWorkflows, sys, waitUntil, type FleetProcess } from '../executors/fleet.js';
import { useFleet } from '../helpers/fleet-scaffold.js';

const SLEEP_SECONDS = 20;
const SKEW_MS = 60_000;

const fleet = useFleet('regskew');
const { executors } = fleet;

describe(`a sleep adopted by a host whose clock is ${SKEW_MS / 1000} s ahead`, () => {
  it('still lasts its duration', async () => {
    const [a] = executors as [FleetProcess];
    const startedAt = Date.now();
    const uuids = await startWorkflows(a, 'sleepThenWork', 5, [SLEEP_SECONDS]);
    expect(
      await waitUntil(async () => {
        const [{ n }] = await sys<{ n: number }>(fleet.app, 'SELECT count(*)::int AS n FROM operon.operation_outputs WHERE workflow_uuid = ANY($1)', [uuids]);
        return n === 5;
      }, 10_000, 50),
    ).toBe(true);
    a.signal('SIGKILL');
    await a.server.exited;
    const skew = join(fleet.app.dir, 'clock-ahead.mjs');
    writeFileSync(skew, `const now = Date.now.bind(Date);\nDate.now = () => now() + ${SKEW_MS};\n`);
    const b = await startExecutor(fleet.app, { env: { NODE_OPTIONS: `--import ${skew}` } });
    executors.push(b);
    // Either they run early (the bug), or they wait out the sleep: 8 s is enough to tell.
    await allEnded(fleet.app, uuids, 8_000);
    const ran = sideEvents(fleet.app).filter((e) => e.ev === 'start');
    const early = ran.filter((e) => e.t - SKEW_MS < startedAt + SLEEP_SECONDS * 1000);
    console.log(
      `[regression] adopted by a clock ${SKEW_MS / 1000} s ahead: ${ran.length} of 5 communicators ran within ` +
        `${Math.round((Date.now() - startedAt) / 1000)} s of the start of a ${SLEEP_SECONDS} s sleep (${early.length} before it was over)`,
    );
    expect(ran, 'communicators that ran before the sleep was over').toEqual([]);
  }, 60_000);
});
