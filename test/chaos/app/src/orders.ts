/**
 * The workflow the load runs: an order is inserted (transaction), announced in a side log file
 * (communicator), sent to a collector workflow (message), and confirmed with the side log's token
 * (second transaction). Each step leaves evidence the harness counts afterwards: one row per order,
 * one receipt per message, a token that matches the communicator's recorded output.
 */
import { appendFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import {
  Authentication,
  Communicator,
  GetApi,
  OperonResponseError,
  PostApi,
  Transaction,
  Workflow,
  type CommunicatorContext,
  type HandlerContext,
  type TransactionContext,
  type WorkflowContext,
} from '@operon/sdk';
import { callerFromHeader } from './caller.js';
import { collectorFor } from './collector-choice.js';

export interface OrderReceipt {
  readonly orderId: string;
  readonly seq: number;
  readonly token: string;
}

export interface OrderRow {
  readonly orderId: string;
  readonly payload: string;
  readonly seq: number;
  readonly token: string | null;
  readonly confirmations: number;
}

/** A side log line: one per run of the communicator, so re-runs are visible. */
export interface SideLogLine {
  readonly orderId: string;
  readonly workflowUUID: string;
  readonly token: string;
  readonly pid: number;
}

/** Postgres text cannot hold NUL: refuse it here (400) rather than fail in the transaction (500). */
const NO_NUL = '^[^\\u0000]*$';

const ORDER_BODY_SCHEMA = {
  type: 'object',
  required: ['orderId', 'payload'],
  additionalProperties: false,
  properties: {
    orderId: { type: 'string', minLength: 1, maxLength: 100, pattern: NO_NUL },
    payload: { type: 'string', maxLength: 4096, pattern: NO_NUL },
  },
};

@Authentication(callerFromHeader)
export class ChaosOrders {
  @Transaction()
  static async insertOrder(ctx: TransactionContext, orderId: string, payload: string): Promise<number> {
    const { rows } = await ctx.client.query<{ seq: string }>(
      'INSERT INTO chaos_orders (order_id, payload, workflow_uuid) VALUES ($1, $2, $3) RETURNING seq',
      [orderId, payload, ctx.workflowUUID],
    );
    return Number(rows[0]!.seq);
  }

  @Communicator({ intervalSeconds: 0.1 })
  static async announce(ctx: CommunicatorContext, orderId: string): Promise<string> {
    const token = randomUUID();
    const line: SideLogLine = { orderId, workflowUUID: ctx.workflowUUID, token, pid: process.pid };
    // One write(2) of one line with O_APPEND: a SIGKILL cannot leave half of it.
    appendFileSync(ctx.getConfig<string>('sideLog')!, `${JSON.stringify(line)}\n`);
    return token;
  }

  @Transaction()
  static async confirmOrder(ctx: TransactionContext, orderId: string, token: string): Promise<void> {
    await ctx.client.query(
      'UPDATE chaos_orders SET token = $2, confirmations = confirmations + 1 WHERE order_id = $1',
      [orderId, token],
    );
  }

  @Transaction({ readOnly: true })
  static async readOrder(ctx: TransactionContext, orderId: string): Promise<OrderRow | null> {
    const { rows } = await ctx.client.query<{ order_id: string; payload: string; seq: string; token: string | null; confirmations: number }>(
      'SELECT order_id, payload, seq, token, confirmations FROM chaos_orders WHERE order_id = $1 ORDER BY seq LIMIT 1',
      [orderId],
    );
    const row = rows[0];
    if (!row) return null;
    return { orderId: row.order_id, payload: row.payload, seq: Number(row.seq), token: row.token, confirmations: row.confirmations };
  }

  @Workflow()
  static async placeOrder(ctx: WorkflowContext, orderId: string, payload: string, collector: string): Promise<OrderReceipt> {
    const seq = await ctx.invoke(ChaosOrders).insertOrder(orderId, payload);
    const token = await ctx.invoke(ChaosOrders).announce(orderId);
    await ctx.send(collector, { orderId }, 'orders');
    await ctx.invoke(ChaosOrders).confirmOrder(orderId, token);
    return { orderId, seq, token };
  }

  @PostApi('/orders', { schema: { body: ORDER_BODY_SCHEMA } })
  static async postOrder(ctx: HandlerContext, orderId: string, payload: string): Promise<OrderReceipt> {
    const collectors = ctx.getConfig<string[]>('collectors', [])!;
    const handle = await ctx.invoke(ChaosOrders).placeOrder(orderId, payload, collectorFor(orderId, collectors));
    return handle.getResult();
  }

  @GetApi('/orders/:orderId')
  static async getOrder(ctx: HandlerContext, orderId: string): Promise<OrderRow> {
    if (orderId.includes('\u0000')) throw new OperonResponseError('orderId must not contain NUL characters', 400);
    const row = await ctx.invoke(ChaosOrders).readOrder(orderId);
    if (row === null) throw new OperonResponseError(`no order ${JSON.stringify(orderId.slice(0, 100))}`, 404);
    return row;
  }
}
