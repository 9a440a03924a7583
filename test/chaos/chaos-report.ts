/**
 * The run's report: a readable summary, then, as the very last line, `CHAOS-JSON {…}` in the
 * shape the issue fixes (scripts and the CI test read only that line).
 */
import type { FaultKind } from './fault-injector.js';

/** One workload's figures: pieces of work sent, and problems its check found. */
export interface WorkloadFigures {
  readonly runs: number;
  readonly failures: number;
}

export const WORKLOAD_NAMES = ['ledger', 'fanout', 'values', 'identity'] as const;

export interface ChaosJson {
  readonly seed: number;
  readonly durationS: number;
  readonly requests: number;
  readonly completed: number;
  readonly duplicates: number;
  readonly lost: number;
  readonly faults: Readonly<Record<FaultKind, number>>;
  /** The saga, fan-out, values and identity workloads. */
  readonly workloads: Readonly<Record<string, WorkloadFigures>>;
  readonly recoveries: number;
  /** `operon start` processes on the one Postgres. */
  readonly runtimes: number;
  /**
   * From a runtime's SIGKILL, SIGSTOP or SIGTERM handover to the moment none of its PENDING
   * workflows was still its own (watched in the system database), over the faults that left
   * something to adopt; and the workflows the runtimes' "adopted N workflows" lines name.
   */
  readonly adoption: { readonly events: number; readonly workflows: number; readonly p50Ms: number; readonly p99Ms: number; readonly maxMs: number };
  /** "was fenced" lines: a woken executor's own, and one per workflow it then stopped running. */
  readonly fenced: { readonly executors: number; readonly workflows: number };
  readonly http5xx: number;
  readonly http5xxOutsideOutage: number;
  readonly fuzzCases: number;
  readonly fuzzFailures: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

export interface ChaosReport {
  readonly json: ChaosJson;
  /** Lines under the figures: problems found, 5xx answers with their times, outages. */
  readonly details: readonly string[];
  readonly extra: Readonly<Record<string, number | string>>;
  readonly passed: boolean;
}

export const JSON_PREFIX = 'CHAOS-JSON ';

/** The JSON object with its keys in the order, whatever order they were computed in. */
export function chaosJsonLine(json: ChaosJson): string {
  const ordered: ChaosJson = {
    seed: json.seed,
    durationS: json.durationS,
    requests: json.requests,
    completed: json.completed,
    duplicates: json.duplicates,
    lost: json.lost,
    faults: {
      sigkill: json.faults.sigkill,
      sigkillStaysDown: json.faults.sigkillStaysDown,
      sigstop: json.faults.sigstop,
      sigterm: json.faults.sigterm,
      pgRestart: json.faults.pgRestart,
      terminateBackend: json.faults.terminateBackend,
      stall: json.faults.stall,
      commitLost: json.faults.commitLost,
    },
    workloads: Object.fromEntries(WORKLOAD_NAMES.map((name) => [name, json.workloads[name] ?? { runs: 0, failures: 0 }])),
    recoveries: json.recoveries,
    runtimes: json.runtimes,
    adoption: {
      events: json.adoption.events,
      workflows: json.adoption.workflows,
      p50Ms: json.adoption.p50Ms,
      p99Ms: json.adoption.p99Ms,
      maxMs: json.adoption.maxMs,
    },
    fenced: { executors: json.fenced.executors, workflows: json.fenced.workflows },
    http5xx: json.http5xx,
    http5xxOutsideOutage: json.http5xxOutsideOutage,
    fuzzCases: json.fuzzCases,
    fuzzFailures: json.fuzzFailures,
    p50Ms: json.p50Ms,
    p99Ms: json.p99Ms,
  };
  return `${JSON_PREFIX}${JSON.stringify(ordered)}`;
}

export function formatReport(report: ChaosReport): string {
  const { json } = report;
  const row = (label: string, value: number | string) => `  ${label.padEnd(34)} ${value}`;
  const lines = [
    '',
    `chaos report — seed ${json.seed}, ${json.durationS} s of load with faults: ${report.passed ? 'PASSED' : 'FAILED'}`,
    row('requests sent (orders)', json.requests),
    row('completed (client got its receipt)', json.completed),
    row('duplicates (must be 0)', json.duplicates),
    row('lost (must be 0)', json.lost),
    row('runtimes on one Postgres', json.runtimes),
    row('faults: SIGKILL + restart', json.faults.sigkill),
    row('faults: SIGKILL, down past lease', json.faults.sigkillStaysDown),
    row('faults: SIGSTOP past lease', json.faults.sigstop),
    row('faults: SIGTERM + restart', json.faults.sigterm),
    row('faults: Postgres restart', json.faults.pgRestart),
    row('faults: pg_terminate_backend', json.faults.terminateBackend),
    row('faults: table lock stall', json.faults.stall),
    row('faults: COMMIT answer lost', json.faults.commitLost),
    ...WORKLOAD_NAMES.map((name) => row(`workload ${name}: runs / failures`, `${json.workloads[name]?.runs ?? 0} / ${json.workloads[name]?.failures ?? 0}`)),
    row('workflows recovered at startup', json.recoveries),
    row('adoptions timed / workflows adopted', `${json.adoption.events} / ${json.adoption.workflows}`),
    row('adoption p50 / p99 / max (ms)', `${json.adoption.p50Ms} / ${json.adoption.p99Ms} / ${json.adoption.maxMs}`),
    row('fenced: executors / workflows', `${json.fenced.executors} / ${json.fenced.workflows}`),
    row('5xx answers (all)', json.http5xx),
    row('5xx outside a database outage', json.http5xxOutsideOutage),
    row('fuzz cases', json.fuzzCases),
    row('fuzz failures', json.fuzzFailures),
    row('order latency p50 / p99 (ms)', `${json.p50Ms} / ${json.p99Ms}`),
    ...Object.entries(report.extra).map(([label, value]) => row(label, value)),
  ];
  if (report.details.length > 0) lines.push('', ...report.details.map((line) => `  ${line}`));
  return lines.join('\n');
}

/** The nearest-rank percentile of `values` (0 for none). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!);
}
