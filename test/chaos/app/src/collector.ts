/**
 * A collector is one long workflow that receives the orders' messages and records a receipt for
 * each (a transaction), until a stop message arrives. A message delivered twice, or consumed and
 * not recorded, shows up as a receipt count other than one.
 */
import {
  Authentication,
  OperonResponseError,
  PostApi,
  Transaction,
  Workflow,
  type HandlerContext,
  type TransactionContext,
  type WorkflowContext,
} from '@operon/sdk';
import { callerFromHeader } from './caller.js';

export const ORDERS_TOPIC = 'orders';

type CollectorMessage = { orderId: string } | { stop: true };

/** Bounds the loop: no run of the harness sends nearly this many messages to one collector. */
const MAX_MESSAGES = 1_000_000;

@Authentication(callerFromHeader)
export class ChaosCollector {
  @Transaction()
  static async recordReceipt(ctx: TransactionContext, orderId: string): Promise<void> {
    await ctx.client.query('INSERT INTO chaos_receipts (order_id, collector_uuid) VALUES ($1, $2)', [orderId, ctx.workflowUUID]);
  }

  @Workflow()
  static async collect(ctx: WorkflowContext): Promise<{ received: number }> {
    let received = 0;
    for (let i = 0; i < MAX_MESSAGES; i++) {
      const message = await ctx.recv<CollectorMessage>(ORDERS_TOPIC, 30);
      if (message === null) continue;
      if ('stop' in message) return { received };
      await ctx.invoke(ChaosCollector).recordReceipt(message.orderId);
      received++;
    }
    return { received };
  }

  @PostApi('/collectors/:collectorId/start')
  static async startCollector(ctx: HandlerContext, collectorId: string): Promise<{ collectorId: string }> {
    assertKnown(ctx, collectorId);
    await ctx.invoke(ChaosCollector, collectorId).collect();
    return { collectorId };
  }

  /** Sends the stop message (once, whatever the retries) and answers with what the collector received. */
  @PostApi('/collectors/:collectorId/stop')
  static async stopCollector(ctx: HandlerContext, collectorId: string): Promise<{ received: number }> {
    assertKnown(ctx, collectorId);
    await ctx.send(collectorId, { stop: true }, ORDERS_TOPIC, `stop:${collectorId}`);
    return ctx.retrieveWorkflow<{ received: number }>(collectorId).getResult();
  }
}

function assertKnown(ctx: HandlerContext, collectorId: string): void {
  if (!ctx.getConfig<string[]>('collectors', [])!.includes(collectorId)) {
    throw new OperonResponseError(`no collector ${JSON.stringify(collectorId.slice(0, 100))}`, 404);
  }
}
