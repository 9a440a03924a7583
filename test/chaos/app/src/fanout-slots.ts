/**
 * The operations a fan-out runs at once in one `Promise.all`, and what each must return: shared
 * by the app (which runs them) and the harness (which draws them and checks every result).
 */
export type FanoutSlot =
  /** A transaction that writes a row and returns its own tag. */
  | { readonly kind: 'tx' }
  /** A read-only transaction that returns its own tag. */
  | { readonly kind: 'readTx' }
  /** A communicator that returns its own tag. */
  | { readonly kind: 'comm' }
  /** A recv on a topic nobody sends to: null after the timeout. */
  | { readonly kind: 'recvNone'; readonly seconds: number }
  /** A send to this workflow itself, on `topic`. */
  | { readonly kind: 'send'; readonly topic: string }
  /** A recv of what a `send` slot of the same fan-out sends on `topic`. */
  | { readonly kind: 'recvSelf'; readonly topic: string }
  /** A recv of the message the harness sends on topic `held` (the harness releases held fan-outs after a SIGKILL). */
  | { readonly kind: 'recvHeld' }
  /** getEvent of the event this workflow set before the fan-out. */
  | { readonly kind: 'getEventSet' }
  /** getEvent of a key nobody sets: null after the timeout. */
  | { readonly kind: 'getEventNone'; readonly seconds: number }
  | { readonly kind: 'sleep'; readonly seconds: number }
  /** invokeChildWorkflow: the child's result. */
  | { readonly kind: 'child' }
  /** startChildWorkflow: the handle, whose result is read after the fan-out. */
  | { readonly kind: 'startChild' }
  /**
   * What a child enqueue got, before the fan-out, under the deduplicationID a first child of the
   * fan-out (delayed 2 s) holds: refused, as a rule. The fan-out sets it as an event too, so the
   * check can tell that a re-run saw what the first run recorded (the holder has ended by then).
   */
  | { readonly kind: 'dedupChild' };

export type FanoutSlotKind = FanoutSlot['kind'];

export const HELD_TOPIC = 'held';
/** The queue of the dedupChild enqueues, and the event that records what the second one got. */
export const DEDUP_QUEUE = 'chaos_fanout_dedup';
export const DEDUP_EVENT = 'fanout-dedup';
export const DEDUP_REFUSED = 'refused:OPERON_ERR_QUEUE_DUPLICATED';
export const DEDUP_ENQUEUED = 'enqueued';
/** The event a fan-out sets before it fans out. */
export const READY_EVENT = 'fanout-ready';

/** `undefined` cannot travel in JSON: a slot that returned nothing reports this instead. */
export const NOTHING = '(undefined)';

export interface FanoutReport {
  readonly fanoutId: string;
  readonly results: readonly unknown[];
}

/** The result slot `index` must have, as the fan-out reports it. */
export function expectedSlotResult(fanoutId: string, slot: FanoutSlot, index: number): unknown {
  switch (slot.kind) {
    case 'tx':
      return `tx:${fanoutId}:${index}`;
    case 'readTx':
      return `read:${fanoutId}:${index}`;
    case 'comm':
      return `comm:${fanoutId}:${index}`;
    case 'recvNone':
    case 'getEventNone':
      return null;
    case 'send':
    case 'sleep':
      return NOTHING;
    case 'recvSelf':
      return selfMessage(fanoutId, slot.topic);
    case 'recvHeld':
      return heldMessage(fanoutId);
    case 'getEventSet':
      return readyEvent(fanoutId);
    case 'child':
    case 'startChild':
      return `child:${fanoutId}:${index}`;
    case 'dedupChild':
      return DEDUP_REFUSED;
  }
}

export const selfMessage = (fanoutId: string, topic: string) => `message:${fanoutId}:${topic}`;
export const heldMessage = (fanoutId: string) => `held:${fanoutId}`;
export const readyEvent = (fanoutId: string) => `event:${fanoutId}`;
