/**
 * Regression: the testing runtime's reset() empties the system database and sets the virtual
 * clock back to its start, but the queue runner kept the times of the rate-limited starts it had
 * made before (what its rate wake-up is set from). A start of the next test was then timed from a
 * start of the previous one, which no longer exists: the wake-up came early, found the window
 * still full, and set no other, so when the window really slid nothing woke the queue and
 * advance() left the next workflow ENQUEUED.
 *
 * Reproduction: limit 1 a minute. Before the reset one workflow starts at t+10 s; after it (the
 * clock back at t) A starts at t+20 s and B waits; advance() past t+80 s must start B.
 */
import { expect, it } from 'vitest';
import { useRatedQueue } from '../helpers/rated-queue.js';

const rated = useRatedQueue('rev-rated-after-reset', 1);
const { enqueue, statusOf } = rated;

it('times a rate window after a reset from the starts made since', async () => {
  await rated.runtime().advance(10_000); // t+10 s
  const before = await enqueue('before');
  await rated.runtime().advance(1_000);
  expect(await statusOf(before)).toBe('SUCCESS');

  await rated.runtime().reset(); // back at t, no workflow
  await rated.runtime().advance(20_000); // t+20 s
  const a = await enqueue('a');
  const b = await enqueue('b');
  await rated.runtime().advance(1_000); // t+21 s
  expect(await statusOf(a)).toBe('SUCCESS');
  expect(await statusOf(b), 'one start a minute').toBe('ENQUEUED');

  await rated.runtime().advance(49_500); // t+70.5 s
  expect(await statusOf(b), 'the window still holds a').toBe('ENQUEUED');
  await rated.runtime().advance(10_000); // t+80.5 s: a left the window at t+80 s
  expect(await statusOf(b), 'started once the window slid past a').toBe('SUCCESS');
}, 30_000);
