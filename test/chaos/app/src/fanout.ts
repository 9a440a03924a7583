/**
 * A workflow that runs 10+ operations of every kind at once with `Promise.all` (transactions,
 * communicators, recv, getEvent, sleep, send, child workflows) and reports what each one returned.
 * Each operation must get its own result, on the first run and on a re-run after a crash: never
 * another's record, never a recv's deadline for a step's output.
 */
import {
  Authentication,
  Communicator,
  PostApi,
  Transaction,
  Workflow,
  type CommunicatorContext,
  type HandlerContext,
  type TransactionContext,
  type WorkflowContext,
  type WorkflowHandle,
  WorkflowQueue,
} from '@operon/sdk';
import { callerFromHeader } from './caller.js';
import { DEDUP_ENQUEUED, DEDUP_EVENT, DEDUP_QUEUE, HELD_TOPIC, NOTHING, READY_EVENT, readyEvent, selfMessage, type FanoutReport, type FanoutSlot } from './fanout-slots.js';

const dedupQueue = new WorkflowQueue(DEDUP_QUEUE);

const FANOUT_BODY_SCHEMA = {
  type: 'object',
  required: ['fanoutId', 'slots'],
  additionalProperties: false,
  properties: {
    fanoutId: { type: 'string', minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9._:-]+$' },
    slots: { type: 'array', minItems: 1, maxItems: 40, items: { type: 'object' } },
  },
};

@Authentication(callerFromHeader)
export class ChaosFanout {
  @Transaction()
  static async write(ctx: TransactionContext, fanoutId: string, slot: number): Promise<string> {
    await ctx.client.query('INSERT INTO chaos_fanout_writes (fanout_id, slot, workflow_uuid) VALUES ($1, $2, $3)', [fanoutId, slot, ctx.workflowUUID]);
    return `tx:${fanoutId}:${slot}`;
  }

  @Transaction({ readOnly: true })
  static async read(ctx: TransactionContext, fanoutId: string, slot: number): Promise<string> {
    const { rows } = await ctx.client.query<{ tag: string }>('SELECT $1::text AS tag', [`read:${fanoutId}:${slot}`]);
    return rows[0]!.tag;
  }

  @Communicator({ intervalSeconds: 0.1 })
  static async tag(_ctx: CommunicatorContext, fanoutId: string, slot: number): Promise<string> {
    return `comm:${fanoutId}:${slot}`;
  }

  @Workflow()
  static async child(_ctx: WorkflowContext, fanoutId: string, slot: number): Promise<string> {
    return `child:${fanoutId}:${slot}`;
  }

  @Workflow()
  static async fanout(ctx: WorkflowContext, fanoutId: string, slots: FanoutSlot[]): Promise<FanoutReport> {
    await ctx.setEvent(READY_EVENT, readyEvent(fanoutId));
    const dedup = slots.some((slot) => slot.kind === 'dedupChild') ? await ChaosFanout.enqueueTwice(ctx, fanoutId) : undefined;
    // Every call is made in this one synchronous loop: the order of the calls is the program's,
    // whatever order they finish in.
    const settled = await Promise.all(slots.map((slot, index) => (slot.kind === 'dedupChild' ? Promise.resolve(dedup) : ChaosFanout.start(ctx, fanoutId, slot, index))));
    const results: unknown[] = [];
    for (const result of settled) {
      const value = isHandle(result) ? await result.getResult() : result;
      results.push(value === undefined ? NOTHING : value);
    }
    return { fanoutId, results };
  }

  /**
   * Two child enqueues under one deduplicationID: the first (delayed 2 s) holds it, so the second
   * is refused, and the refusal is recorded. The holder has ended by the time a SIGKILL re-runs
   * the fan-out: a re-run that enqueued again would report what the event, written on the first
   * run's outcome, contradicts.
   */
  private static async enqueueTwice(ctx: WorkflowContext, fanoutId: string): Promise<string> {
    const deduplicationID = `dedup-${fanoutId}`;
    await ctx.startChildWorkflow(ChaosFanout, { queue: dedupQueue, deduplicationID, delaySeconds: 2 }).child(fanoutId, -1);
    let outcome: string;
    try {
      await ctx.startChildWorkflow(ChaosFanout, { queue: dedupQueue, deduplicationID }).child(fanoutId, -2);
      outcome = DEDUP_ENQUEUED;
    } catch (error) {
      outcome = `refused:${(error as { code?: string }).code}`;
    }
    await ctx.setEvent(DEDUP_EVENT, outcome);
    return outcome;
  }

  private static start(ctx: WorkflowContext, fanoutId: string, slot: FanoutSlot, index: number): Promise<unknown> {
    switch (slot.kind) {
      case 'tx':
        return ctx.invoke(ChaosFanout).write(fanoutId, index);
      case 'readTx':
        return ctx.invoke(ChaosFanout).read(fanoutId, index);
      case 'comm':
        return ctx.invoke(ChaosFanout).tag(fanoutId, index);
      case 'recvNone':
        return ctx.recv(`none-${index}`, slot.seconds);
      case 'send':
        return ctx.send(ctx.workflowUUID, selfMessage(fanoutId, slot.topic), slot.topic);
      case 'recvSelf':
        return ctx.recv(slot.topic, 60);
      case 'recvHeld':
        return ctx.recv(HELD_TOPIC, 120);
      case 'getEventSet':
        return ctx.getEvent(ctx.workflowUUID, READY_EVENT, 10);
      case 'getEventNone':
        return ctx.getEvent(ctx.workflowUUID, `never-${index}`, slot.seconds);
      case 'sleep':
        return ctx.sleep(slot.seconds);
      case 'child':
        return ctx.invokeChildWorkflow(ChaosFanout).child(fanoutId, index);
      case 'startChild':
        return ctx.startChildWorkflow(ChaosFanout).child(fanoutId, index);
      case 'dedupChild':
        throw new Error('a dedupChild slot reports the outcome of the enqueues before the fan-out');
    }
  }

  @PostApi('/fanouts', { schema: { body: FANOUT_BODY_SCHEMA } })
  static async postFanout(ctx: HandlerContext, fanoutId: string, slots: FanoutSlot[]): Promise<FanoutReport> {
    const handle = await ctx.invoke(ChaosFanout).fanout(fanoutId, slots);
    return handle.getResult();
  }
}

function isHandle(value: unknown): value is WorkflowHandle<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as WorkflowHandle<unknown>).getWorkflowUUID === 'function';
}
