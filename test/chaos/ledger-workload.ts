/**
 * The saga workload: transfers of the ledger app (app/src/ledger.ts), each with a plan drawn
 * from the seed that says which step, if any, fails in user code. At the end, from the ledger
 * table, the ledger log and the answers:
 *  - every debit has exactly one settlement: a completion or a compensation (none: a debit left
 *    unsettled; two: settled twice), and no transfer was debited twice;
 *  - a compensation happens only when a step after the debit really failed in user code (the plan
 *    says so), and it names that step's own error, never a database or shutdown error;
 *  - a transfer declined at its debit left nothing in the ledger;
 *  - the charge ran (a line in the ledger log) exactly when the plan reaches it, with the outcome
 *    the plan gives it; re-runs after a crash are counted, not failed;
 *  - every client got the outcome its plan gives (completed, declined or compensated, with the
 *    reason), and no ledger row belongs to a transfer nobody sent.
 */
import { readFileSync } from 'node:fs';
import { APP_DATABASE } from './app-folder.js';
import type { CarefulClient } from './careful-client.js';
import type { PostgresServer } from './postgres-server.js';
import type { SeededRandom } from './seeded-random.js';
import type { Timeline } from './timeline.js';
import { LoopingWorkload, answerProblem, capped, json, type Answer, type WorkloadCheck } from './workload.js';
import { expectedOutcome, type ChargeLogLine, type TransferOutcome, type TransferPlan } from './app/src/ledger-plan.js';

export interface SentTransfer {
  readonly transferId: string;
  readonly amount: number;
  readonly plan: TransferPlan;
  readonly workflowUUID: string;
  answer?: Answer<TransferOutcome>;
}

export interface LedgerRow {
  readonly transfer_id: string;
  readonly kind: string;
  readonly amount: string | number;
  readonly reason: string | null;
  readonly workflow_uuid: string;
}

const PLAN_WEIGHTS: readonly [TransferPlan, number][] = [
  ['ok', 0.55],
  ['debitDeclined', 0.1],
  ['chargeDeclined', 0.15],
  ['completionRejected', 0.2],
];

export class LedgerWorkload extends LoopingWorkload {
  readonly name = 'ledger';
  readonly transfers: SentTransfer[] = [];

  constructor(
    client: CarefulClient,
    timeline: Timeline,
    private readonly rng: SeededRandom,
    private readonly ledgerLog: string,
    loops: number,
    maxRuns: number,
  ) {
    super(client, timeline, loops, maxRuns);
  }

  protected get runs(): number {
    return this.transfers.length;
  }

  protected async runOne(): Promise<void> {
    const transfer: SentTransfer = {
      transferId: `transfer-${this.rng.seed}-${this.transfers.length}`,
      amount: this.rng.int(1, 100_000),
      plan: weighted(this.rng, PLAN_WEIGHTS),
      workflowUUID: this.rng.uuid(),
    };
    this.transfers.push(transfer);
    transfer.answer = await this.post<TransferOutcome>({
      path: '/transfers',
      body: { transferId: transfer.transferId, amount: transfer.amount, plan: transfer.plan },
      workflowUUID: transfer.workflowUUID,
      user: 'ledger',
      what: transfer.transferId,
    });
  }

  async check(postgres: PostgresServer): Promise<WorkloadCheck> {
    const rows = await postgres.query<LedgerRow>(APP_DATABASE, 'SELECT transfer_id, kind, amount, reason, workflow_uuid FROM chaos_ledger ORDER BY seq');
    return checkLedger(this.transfers, rows, readChargeLog(this.ledgerLog));
  }
}

/** The ledger invariant over what was sent, what the ledger holds and what the charge logged. */
export function checkLedger(transfers: readonly SentTransfer[], rows: readonly LedgerRow[], charges: readonly ChargeLogLine[]): WorkloadCheck {
  const problems: string[] = [];
  const rowsById = groupBy(rows, (r) => r.transfer_id);
  const chargesById = groupBy(charges, (c) => c.transferId);
  const sent = new Set<string>();
  let compensations = 0;
  let chargeReruns = 0;
  for (const transfer of transfers) {
    sent.add(transfer.transferId);
    const name = `transfer ${transfer.transferId} (plan ${transfer.plan})`;
    const problem = (text: string) => problems.push(`${name}: ${text}`);
    const expected = expectedOutcome(transfer.transferId, transfer.plan);
    const mine = rowsById.get(transfer.transferId) ?? [];
    const debits = mine.filter((r) => r.kind === 'debit');
    const completions = mine.filter((r) => r.kind === 'completion');
    const compensationRows = mine.filter((r) => r.kind === 'compensation');
    compensations += compensationRows.length;

    const notOk = answerProblem(transfer.answer);
    if (notOk) problem(notOk);
    else if (transfer.answer && 'ok' in transfer.answer) {
      const got = transfer.answer.ok;
      if (got.transferId !== expected.transferId || got.outcome !== expected.outcome || got.reason !== expected.reason) {
        problem(`answered ${json(got)}; its plan makes it ${json(expected)}`);
      }
    }
    for (const row of mine) {
      if (Number(row.amount) !== transfer.amount) problem(`a ${row.kind} of ${row.amount}, the transfer was for ${transfer.amount}`);
      if (row.workflow_uuid !== transfer.workflowUUID) problem(`a ${row.kind} written by workflow ${row.workflow_uuid}, not ${transfer.workflowUUID}`);
    }
    if (debits.length > 1) problem(`debited ${debits.length} times`);
    if (transfer.plan === 'debitDeclined') {
      if (mine.length > 0) problem(`declined at its debit, yet the ledger holds ${mine.map((r) => r.kind).join(', ')}`);
    } else {
      if (debits.length === 0) problem('no debit in the ledger');
      const settlements = completions.length + compensationRows.length;
      if (settlements !== 1) {
        problem(`${settlements} settlements for its debit (${completions.length} completions, ${compensationRows.length} compensations); exactly one is allowed`);
      }
      for (const row of compensationRows) {
        if (expected.reason === undefined) problem(`compensated though no step failed in user code; the saga caught ${json(row.reason)}`);
        else if (row.reason !== expected.reason) problem(`compensated for ${json(row.reason)}, not for its own step's failure ${json(expected.reason)}`);
      }
      if (expected.outcome === 'completed' && completions.length === 0 && compensationRows.length === 0) problem('never completed');
    }

    const ran = chargesById.get(transfer.transferId) ?? [];
    const reachesCharge = transfer.plan !== 'debitDeclined';
    const event = transfer.plan === 'chargeDeclined' ? 'declined' : 'charged';
    if (!reachesCharge && ran.length > 0) problem(`the charge ran ${ran.length} times, though the debit was declined`);
    if (reachesCharge && ran.length === 0) problem('the charge never ran');
    const wrong = ran.filter((c) => c.event !== event || c.workflowUUID !== transfer.workflowUUID);
    if (wrong.length > 0) problem(`the charge logged ${json(wrong[0])}, expected event ${event} by ${transfer.workflowUUID}`);
    chargeReruns += Math.max(0, ran.length - 1);
  }
  for (const [transferId, found] of rowsById) {
    if (!sent.has(transferId)) problems.push(`ledger rows for a transfer nobody sent: ${json(transferId)} (${found.map((r) => r.kind).join(', ')})`);
  }
  return {
    runs: transfers.length,
    problems: capped(problems),
    figures: { compensations, 'charge re-runs (allowed)': chargeReruns },
  };
}

export function readChargeLog(file: string): ChargeLogLine[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as ChargeLogLine);
}

export function weighted<T>(rng: SeededRandom, choices: readonly (readonly [T, number])[]): T {
  const total = choices.reduce((sum, [, w]) => sum + w, 0);
  let roll = rng.next() * total;
  for (const [value, weight] of choices) {
    roll -= weight;
    if (roll < 0) return value;
  }
  return choices[choices.length - 1]![0];
}

export function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    let group = out.get(key(item));
    if (!group) out.set(key(item), (group = []));
    group.push(item);
  }
  return out;
}
