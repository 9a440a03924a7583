/**
 * Regression: a rate-limited queue's runner kept one wake-up a queue at a time, set a period after
 * the dequeue that set it, and re-set it only for the dequeue of its own firing. A start made
 * while that wake-up was set (a later start in the same window) set none: when the window slid
 * past it, a slot freed and nothing woke the queue before the 1 s poll, or, on a testing runtime's
 * virtual clock, before the next wake-up a whole period on (advance() left the workflow ENQUEUED).
 *
 * Reproduction: limit 2 a minute. A starts at t, B at t+11 s (the window then holds both), C and D
 * wait. At t+60 s A leaves the window and C starts; at t+71 s B leaves it and D must start.
 */
import { expect, it } from 'vitest';
import { useRatedQueue } from '../helpers/rated-queue.js';

const rated = useRatedQueue('rev-rated-later-start', 2);
const { enqueue, statusOf } = rated;

it('starts a waiting workflow when the window slides past a later start of the same window', async () => {
  const a = await enqueue('a');
  await rated.runtime().advance(1_000); // t+1 s
  expect(await statusOf(a)).toBe('SUCCESS');

  await rated.runtime().advance(10_000); // t+11 s
  const b = await enqueue('b');
  const c = await enqueue('c');
  const d = await enqueue('d');
  await rated.runtime().advance(1_000); // t+12 s
  expect(await statusOf(b), 'the second start of the window').toBe('SUCCESS');
  expect(await statusOf(c), 'the window holds a and b').toBe('ENQUEUED');

  await rated.runtime().advance(48_500); // t+60.5 s: a left the window
  expect(await statusOf(c), 'started when a left the window').toBe('SUCCESS');
  expect(await statusOf(d), 'the window holds b and c').toBe('ENQUEUED');

  await rated.runtime().advance(11_000); // t+71.5 s: b left the window at t+71 s
  expect(await statusOf(d), 'started when b left the window').toBe('SUCCESS');
}, 30_000);
