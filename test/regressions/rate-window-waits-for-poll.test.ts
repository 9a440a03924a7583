/**
 * Regression: when a queue's rate window slid past its oldest start, nothing woke the queue: the
 * next workflow waited for the 1 s poll, and on a testing runtime's virtual clock advance() and
 * runUntilIdle() had no deadline to fire, so a test saw it still ENQUEUED after moving the clock
 * past the window. Now the runner sets a wake-up, through the runtime's clock, for the moment the
 * window frees a slot.
 */
import { describe, expect, it } from 'vitest';
import { useRatedQueue } from '../helpers/rated-queue.js';

const rated = useRatedQueue('rev-rated-window', 1);
const { enqueue, statusOf } = rated;

describe('a rate-limited queue on a virtual clock', () => {
  it('starts the next workflow when the window frees a slot, by the clock, without the poll', async () => {
    const first = await enqueue('first');
    const second = await enqueue('second');
    await rated.runtime().advance(1_000);
    expect(await statusOf(first)).toBe('SUCCESS');
    expect(await statusOf(second), 'one start a minute').toBe('ENQUEUED');

    await rated.runtime().advance(58_000);
    expect(await statusOf(second), 'the window is still full').toBe('ENQUEUED');
    await rated.runtime().advance(1_100);
    expect(await statusOf(second), 'started once the window slid past the first start').toBe('SUCCESS');
  }, 20_000);
});
