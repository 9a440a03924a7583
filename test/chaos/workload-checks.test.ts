/**
 * The workloads' checks can fail: each is fed what a correct run leaves (no problem) and what the
 * bugs the harness hunts leave (a problem that names it). The full harness only shows the first
 * half on a correct core; this is the second half, without a server.
 */
import { describe, expect, it } from 'vitest';
import { expectedSlotResult, heldMessage, NOTHING, type FanoutSlot } from './app/src/fanout-slots.js';
import type { TaggedResult } from './app/src/identity-results.js';
import { declinedMessage } from './app/src/ledger-plan.js';
import type { ValueReport } from './app/src/value-report.js';
import { describeValue } from './app/src/value-description.js';
import { checkFanouts, type SentFanout } from './fanout-workload.js';
import { checkIdentity, type IdentityCase } from './identity-workload.js';
import { checkLedger, type LedgerRow, type SentTransfer } from './ledger-workload.js';
import { checkValues, type SentValue } from './values-workload.js';

describe('the ledger invariant', () => {
  const ok: SentTransfer = { transferId: 't-1', amount: 10, plan: 'ok', workflowUUID: 'w-1', answer: { ok: { transferId: 't-1', outcome: 'completed' } } };
  const rejected: SentTransfer = {
    transferId: 't-2',
    amount: 20,
    plan: 'completionRejected',
    workflowUUID: 'w-2',
    answer: { ok: { transferId: 't-2', outcome: 'compensated', reason: declinedMessage('completion', 't-2') } },
  };
  const row = (t: SentTransfer, kind: string, reason: string | null = null): LedgerRow => ({ transfer_id: t.transferId, kind, amount: t.amount, reason, workflow_uuid: t.workflowUUID });
  const charged = (t: SentTransfer) => ({ transferId: t.transferId, workflowUUID: t.workflowUUID, event: 'charged' as const });

  it('holds for a completion and a compensation for a real failure', () => {
    const rows = [row(ok, 'debit'), row(ok, 'completion'), row(rejected, 'debit'), row(rejected, 'compensation', declinedMessage('completion', 't-2'))];
    expect(checkLedger([ok, rejected], rows, [charged(ok), charged(rejected)]).problems).toEqual([]);
  });

  it('fails a compensation for a debit whose COMMIT answer was lost', () => {
    const answered: SentTransfer = { ...ok, answer: { ok: { transferId: 't-1', outcome: 'compensated', reason: 'Connection terminated unexpectedly' } } };
    const rows = [row(ok, 'debit'), row(ok, 'compensation', 'Connection terminated unexpectedly')];
    const { problems } = checkLedger([answered], rows, [charged(ok)]);
    expect(problems.join('\n')).toMatch(/compensated though no step failed in user code; the saga caught "Connection terminated unexpectedly"/);
  });

  it('fails a debit left unsettled, one settled twice, and a compensation for another error', () => {
    expect(checkLedger([ok], [row(ok, 'debit')], [charged(ok)]).problems.join('\n')).toMatch(/0 settlements for its debit/);
    expect(checkLedger([ok], [row(ok, 'debit'), row(ok, 'completion'), row(ok, 'completion')], [charged(ok)]).problems.join('\n')).toMatch(/2 settlements/);
    const wrongReason = [row(rejected, 'debit'), row(rejected, 'compensation', 'terminating connection due to administrator command')];
    expect(checkLedger([rejected], wrongReason, [charged(rejected)]).problems.join('\n')).toMatch(/compensated for "terminating connection/);
    expect(checkLedger([ok], [row(ok, 'debit'), row(ok, 'debit'), row(ok, 'completion')], [charged(ok)]).problems.join('\n')).toMatch(/debited 2 times/);
  });
});

describe('the fan-out check', () => {
  const slots: FanoutSlot[] = [{ kind: 'recvNone', seconds: 1 }, { kind: 'comm' }, { kind: 'tx' }, { kind: 'recvHeld' }, { kind: 'sleep', seconds: 0.2 }];
  const results = slots.map((slot, i) => expectedSlotResult('f-1', slot, i));
  const fanout = (got: unknown[]): SentFanout => ({ fanoutId: 'f-1', slots, workflowUUID: 'w-f', held: true, answer: { ok: { fanoutId: 'f-1', results: got } } });
  const written = [{ fanout_id: 'f-1', slot: 2, workflow_uuid: 'w-f' }];

  it('holds when every operation got its own result', () => {
    expect(results).toEqual([null, 'comm:f-1:1', 'tx:f-1:2', heldMessage('f-1'), NOTHING]);
    expect(checkFanouts([fanout(results)], written).problems).toEqual([]);
  });

  it("fails a step that returned a recv's deadline, and a transaction that wrote twice", () => {
    const swapped = [...results];
    swapped[1] = 1_796_118_552_142;
    expect(checkFanouts([fanout(swapped)], written).problems.join('\n')).toMatch(/operation 1 \(comm\) returned 1796118552142, its own result is "comm:f-1:1"/);
    expect(checkFanouts([fanout(results)], [...written, ...written]).problems.join('\n')).toMatch(/wrote 2 rows/);
  });
});

describe('the values check', () => {
  const value = { a: [1, -0, 'x'], when: '2020-01-01T00:00:00.000Z' };
  const seen = describeValue(['v-1', value, { when: new Date(0) }]);
  const report = (over: Partial<ValueReport>): ValueReport => ({
    valueId: 'v-1',
    echo: JSON.parse(JSON.stringify(value)),
    firstSeen: seen,
    seenNow: seen,
    valueSeen: describeValue(value),
    firstPid: 1,
    finalPid: 2,
    ...over,
  });
  const sent = (r: ValueReport): SentValue => ({ valueId: 'v-1', value, at: '2020-01-01T00:00:00.000Z', holdSeconds: 60, workflowUUID: 'w-v', answer: { ok: r } });

  it('holds when the first and the recovered run saw the same inputs', () => {
    expect(checkValues([sent(report({}))], [{ value_id: 'v-1', seen }]).problems).toEqual([]);
  });

  it('fails a recovered run that saw a Date as a string, and a held run that was never recovered', () => {
    const recovered = describeValue(['v-1', value, { when: new Date(0).toISOString() }]);
    expect(describeValue(new Date(0))).not.toBe(describeValue(new Date(0).toISOString()));
    expect(checkValues([sent(report({ seenNow: recovered }))], [{ value_id: 'v-1', seen }]).problems.join('\n')).toMatch(/saw different inputs/);
    expect(checkValues([sent(report({ finalPid: 1 }))], [{ value_id: 'v-1', seen }]).problems.join('\n')).toMatch(/recovery was not tested/);
  });

  it('tells apart what a JSON round trip merges', () => {
    const pairs: [unknown, unknown][] = [[-0, 0], [new Map(), {}], [undefined, null], [{ k: undefined }, {}], [[, 1], [undefined, 1]], [new Set([1]), [1]]];
    for (const [a, b] of pairs) expect(describeValue(a)).not.toBe(describeValue(b));
  });
});

describe('the identity check', () => {
  const own = (fn: TaggedResult['fn'], tag: string, ranAs: string): TaggedResult => ({ fn, tag, ranAs });
  const identityCase = (childRanAs: string, clientResult: TaggedResult): IdentityCase => ({
    parentUUID: 'X',
    tag: 'parent:X',
    order: 'before',
    clients: [{ workflowUUID: 'X-0', fn: 'child', tag: 'client:X-0', mayBeRefused: false, answer: { ok: clientResult } }],
    answer: { ok: { tag: 'parent:X', ranAs: 'X', child: own('child', 'parent:X/child', childRanAs), second: own('solo', 'parent:X/second', 'derived-2') } },
  });

  it('holds when the client workflow and the derived ones each ran as themselves', () => {
    expect(checkIdentity([identityCase('derived-1', own('child', 'client:X-0', 'X-0'))]).problems).toEqual([]);
  });

  it('fails a client workflow adopted as the child, or handed the child\'s result', () => {
    const adopted = identityCase('X-0', own('child', 'client:X-0', 'X-0'));
    (adopted.answer as { ok: { child: TaggedResult } }).ok.child = own('child', 'client:X-0', 'X-0');
    expect(checkIdentity([adopted]).problems.join('\n')).toMatch(/a client workflow was adopted/);
    expect(checkIdentity([identityCase('X-0', own('child', 'parent:X/child', 'X-0'))]).problems.join('\n')).toMatch(/was handed .* not its own result/);
  });

  it('allows a 400 only for a UUID with a character a runtime may reserve', () => {
    const reserved = identityCase('derived-1', own('child', 'client:X-0', 'X-0'));
    const refusal = { refused: '400 {"error":"workflow UUID must not contain \\"~\\""}' };
    (reserved.clients as IdentityCase['clients'][number][]).push({ workflowUUID: 'X~c0', fn: 'solo', tag: 'client:X~c0', mayBeRefused: true, answer: refusal });
    expect(checkIdentity([reserved]).problems).toEqual([]);
    // The runtime derived that very UUID for the child: fine, since the client's workflow never existed.
    (reserved.answer as { ok: { child: TaggedResult } }).ok.child = own('child', 'parent:X/child', 'X~c0');
    expect(checkIdentity([reserved]).problems).toEqual([]);
    reserved.clients[0]!.answer = refusal;
    expect(checkIdentity([reserved]).problems.join('\n')).toMatch(/client X-0: refused: 400/);
  });

  it('fails a 409 to a client UUID shaped like a derived one', () => {
    const refused = identityCase('derived-1', own('child', 'client:X-0', 'X-0'));
    refused.clients[0]!.answer = { refused: '409 {"error":"conflict"}' };
    expect(checkIdentity([refused]).problems.join('\n')).toMatch(/client X-0: refused: 409/);
  });
});
