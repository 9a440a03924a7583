/**
 * The checks after the final recovery, read straight from the databases and the side log:
 *  - one row per order (none: lost; two: a duplicate), with the payload byte for byte as sent;
 *  - one receipt per order (the message was received exactly once) and no message left unread;
 *  - the communicator ran at least once (side log), and its recorded output is the token the
 *    second transaction stored (once: confirmations = 1) and the client was given;
 *  - every workflow in a final state, every order's workflow SUCCESS.
 */
import { readFileSync } from 'node:fs';
import { APP_DATABASE, SYSTEM_DATABASE } from './app-folder.js';
import type { PostgresServer } from './postgres-server.js';

/** An order the harness knows it placed: from the load, or a valid request of the fuzzer. */
export interface ExpectedOrder {
  readonly orderId: string;
  /** Unknown when the server may have changed it (bytes that are not UTF-8). */
  readonly payload: string | undefined;
  /** Unknown for a fuzz request sent without one. */
  readonly workflowUUID: string | undefined;
  readonly receipt: { readonly seq: number; readonly token: string } | undefined;
}

export interface CheckResult {
  readonly orders: number;
  readonly completed: number;
  readonly duplicates: number;
  readonly lost: number;
  /** Communicator runs beyond the first, summed: work redone after a crash (allowed). */
  readonly communicatorReruns: number;
  readonly pendingWorkflows: number;
  readonly receiptsTotal: number;
  /** Everything found wrong, one line each. */
  readonly problems: string[];
}

interface OrderRow {
  order_id: string;
  payload: string;
  seq: string;
  token: string | null;
  confirmations: number;
  workflow_uuid: string;
}

const ANNOUNCE = 'ChaosOrders.announce';
const MAX_PROBLEM_LINES = 50;

export async function checkConsistency(postgres: PostgresServer, expected: readonly ExpectedOrder[], sideLog: string): Promise<CheckResult> {
  const rows = await postgres.query<OrderRow>(APP_DATABASE, 'SELECT order_id, payload, seq, token, confirmations, workflow_uuid FROM chaos_orders');
  const receipts = await postgres.query<{ order_id: string; n: number }>(APP_DATABASE, 'SELECT order_id, count(*)::int AS n FROM chaos_receipts GROUP BY order_id');
  const statuses = await postgres.query<{ workflow_uuid: string; status: string; workflow_name: string }>(
    SYSTEM_DATABASE,
    'SELECT workflow_uuid, status, workflow_name FROM operon.workflow_status',
  );
  const announced = await postgres.query<{ workflow_uuid: string; output: string | null; error: string | null }>(
    SYSTEM_DATABASE,
    'SELECT workflow_uuid, output, error FROM operon.operation_outputs WHERE function_name = $1',
    [ANNOUNCE],
  );
  const unread = await postgres.query<{ destination_uuid: string; n: number }>(
    SYSTEM_DATABASE,
    'SELECT destination_uuid, count(*)::int AS n FROM operon.notifications GROUP BY destination_uuid',
  );

  const problems: string[] = [];
  const problem = (text: string): void => {
    if (problems.length < MAX_PROBLEM_LINES) problems.push(text);
    else if (problems.length === MAX_PROBLEM_LINES) problems.push('… more problems not shown');
  };
  const rowsById = groupBy(rows, (r) => r.order_id);
  const receiptsById = new Map(receipts.map((r) => [r.order_id, r.n]));
  const statusByUUID = new Map(statuses.map((s) => [s.workflow_uuid, s]));
  const tokenByUUID = new Map(announced.map((a) => [a.workflow_uuid, a.output === null ? null : (JSON.parse(a.output) as string)]));
  const sideLogTokens = readSideLog(sideLog);

  let duplicates = 0;
  let lost = 0;
  let completed = 0;
  let communicatorReruns = 0;
  const expectedIds = new Set<string>();
  for (const order of expected) {
    expectedIds.add(order.orderId);
    const found = rowsById.get(order.orderId) ?? [];
    const receiptCount = receiptsById.get(order.orderId) ?? 0;
    const name = `order ${order.orderId}`;
    // Lost: any part of the order that never happened. Counted once per order.
    let isLost = false;
    if (order.receipt) completed++;
    else {
      isLost = true;
      problem(`${name}: the client never got its receipt`);
    }
    if (found.length === 0) {
      lost++;
      problem(`${name}: no row`);
      continue;
    }
    if (found.length > 1) {
      duplicates += found.length - 1;
      problem(`${name}: ${found.length} rows (duplicate inserts)`);
    }
    if (receiptCount !== 1) {
      if (receiptCount === 0) isLost = true;
      else duplicates += receiptCount - 1;
      problem(`${name}: its message was received ${receiptCount} times`);
    }
    const row = found[0]!;
    if (row.confirmations !== 1) {
      if (row.confirmations > 1) duplicates += row.confirmations - 1;
      else isLost = true;
      problem(`${name}: confirmed ${row.confirmations} times`);
    }
    if (order.payload !== undefined && row.payload !== order.payload) {
      problem(`${name}: payload stored as ${JSON.stringify(row.payload.slice(0, 80))}, sent ${JSON.stringify(order.payload.slice(0, 80))} (not verbatim)`);
    }
    const uuid = order.workflowUUID ?? row.workflow_uuid;
    if (order.workflowUUID !== undefined && row.workflow_uuid !== order.workflowUUID) problem(`${name}: inserted by workflow ${row.workflow_uuid}, not ${order.workflowUUID}`);
    const status = statusByUUID.get(uuid);
    if (status?.status !== 'SUCCESS') {
      isLost = true;
      problem(`${name}: workflow ${uuid} is ${status?.status ?? 'missing'}`);
    }
    const recordedToken = tokenByUUID.get(uuid);
    const ranWith = sideLogTokens.get(order.orderId) ?? [];
    if (ranWith.length === 0) problem(`${name}: the communicator never ran (no side log line)`);
    communicatorReruns += Math.max(0, ranWith.length - 1);
    if (typeof recordedToken !== 'string') problem(`${name}: no recorded communicator output`);
    else {
      if (!ranWith.includes(recordedToken)) problem(`${name}: the recorded token ${recordedToken} is not one the communicator logged`);
      if (row.token !== recordedToken) problem(`${name}: the second transaction stored token ${row.token}, the record says ${recordedToken}`);
      if (order.receipt && order.receipt.token !== recordedToken) problem(`${name}: the client was given token ${order.receipt.token}, the record says ${recordedToken}`);
    }
    if (order.receipt && order.receipt.seq !== Number(row.seq)) problem(`${name}: the client was given seq ${order.receipt.seq}, the row has ${row.seq}`);
    if (isLost) lost++;
  }
  for (const [orderId, found] of rowsById) {
    if (!expectedIds.has(orderId)) problem(`an order nobody placed is stored: ${JSON.stringify(orderId.slice(0, 80))} (${found.length} rows)`);
  }
  for (const [orderId, n] of receiptsById) {
    if (!expectedIds.has(orderId)) problem(`a receipt for an order nobody placed: ${JSON.stringify(orderId.slice(0, 80))} (${n})`);
  }
  for (const left of unread) problem(`${left.n} message(s) to ${left.destination_uuid} were never received`);
  const pending = statuses.filter((s) => s.status === 'PENDING');
  for (const s of pending.slice(0, 10)) problem(`workflow ${s.workflow_uuid} (${s.workflow_name}) is still PENDING`);
  return {
    orders: expected.length,
    completed,
    duplicates,
    lost,
    communicatorReruns,
    pendingWorkflows: pending.length,
    receiptsTotal: receipts.reduce((sum, r) => sum + r.n, 0),
    problems,
  };
}

/** orderId → the tokens of every communicator run for it. */
function readSideLog(file: string): Map<string, string[]> {
  const byOrder = new Map<string, string[]>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    const { orderId, token } = JSON.parse(line) as { orderId: string; token: string };
    let tokens = byOrder.get(orderId);
    if (!tokens) byOrder.set(orderId, (tokens = []));
    tokens.push(token);
  }
  return byOrder;
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    let group = out.get(key(item));
    if (!group) out.set(key(item), (group = []));
    group.push(item);
  }
  return out;
}
