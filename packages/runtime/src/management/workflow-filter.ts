/**
 * The filters of the workflow list (and of bulk cancel/resume), read from a query string or a
 * JSON body, and turned into one SQL condition. Every bad value is a 400 naming the parameter.
 */
import { OperonError } from '@operon/sdk';

/** A management request with a bad parameter: answered with 400. */
export class OperonManagementRequestError extends OperonError {
  static override readonly CODE = 'OPERON_ERR_MANAGEMENT_BAD_REQUEST';
  readonly status = 400;
}

export const WORKFLOW_STATUSES = ['PENDING', 'ENQUEUED', 'SUCCESS', 'ERROR', 'CANCELLED', 'RETRIES_EXCEEDED'] as const;

export interface WorkflowFilter {
  readonly status?: readonly string[];
  readonly name?: string;
  readonly executor?: string;
  readonly user?: string;
  readonly parent?: string;
  /** The queue it was enqueued on. */
  readonly queue?: string;
  /** The version (code hash) it runs on. */
  readonly version?: string;
  /** Epoch ms, exclusive. */
  readonly createdAfter?: number;
  /** Epoch ms, exclusive. */
  readonly createdBefore?: number;
}

const TEXT_FILTERS = ['name', 'executor', 'user', 'parent', 'queue', 'version'] as const;
const FILTER_KEYS = new Set<string>(['status', ...TEXT_FILTERS, 'createdAfter', 'createdBefore']);

function bad(message: string): OperonManagementRequestError {
  return new OperonManagementRequestError(message);
}

/** Times are stored as bigint epoch ms: anything else would reach Postgres and fail there. */
function timeOf(key: string, value: unknown): number {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
  if (typeof value === 'string' && value !== '') {
    const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
    if (Number.isSafeInteger(ms)) return ms;
  }
  throw bad(`${key} must be an ISO 8601 time or epoch milliseconds, got ${JSON.stringify(value)}`);
}

/**
 * Text Postgres can hold: a NUL, or a lone surrogate (which node-postgres would send as invalid
 * UTF-8), fails the query with the database's error instead. Checked here, so it is a 400 naming
 * `what`.
 */
export function checkStorableText(what: string, value: string): string {
  if (/\u0000|\p{Cs}/u.test(value)) throw bad(`${what} must not contain a NUL or a lone surrogate, got ${JSON.stringify(value.slice(0, 40))}`);
  return value;
}

/**
 * The filter in `input` (a query string's values or a JSON body). `extra` names other keys the
 * caller reads itself (`limit`, `cursor`); any other key is an error, so a misspelt filter never
 * silently matches everything (which, for a bulk cancel, would cancel everything).
 */
export function parseFilter(input: unknown, extra: readonly string[] = []): WorkflowFilter {
  if (input === undefined || input === null) return {};
  if (typeof input !== 'object' || Array.isArray(input)) throw bad('the filter must be a JSON object');
  const values = input as Record<string, unknown>;
  const filter: { -readonly [K in keyof WorkflowFilter]: WorkflowFilter[K] } = {};
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined) continue;
    if (!FILTER_KEYS.has(key)) {
      if (extra.includes(key)) continue;
      throw bad(`unknown filter "${key}": the filters are ${[...FILTER_KEYS].join(', ')}`);
    }
    if (key === 'status') {
      const list = Array.isArray(value) ? value : typeof value === 'string' ? value.split(',') : [value];
      for (const status of list) {
        if (typeof status !== 'string' || !(WORKFLOW_STATUSES as readonly string[]).includes(status)) {
          throw bad(`status must be one or more of ${WORKFLOW_STATUSES.join(', ')} (comma-separated), got ${JSON.stringify(status)}`);
        }
      }
      filter.status = list as string[];
    } else if (key === 'createdAfter' || key === 'createdBefore') {
      filter[key] = timeOf(key, value);
    } else {
      if (typeof value !== 'string' || value === '') throw bad(`${key} must be a non-empty string, got ${JSON.stringify(value)}`);
      filter[key as (typeof TEXT_FILTERS)[number]] = checkStorableText(key, value);
    }
  }
  return filter;
}

/** True when the filter selects every workflow. */
export function isEmptyFilter(filter: WorkflowFilter): boolean {
  return Object.values(filter).every((value) => value === undefined);
}

/** The filter as a SQL condition on `operon.workflow_status` (alias `w`), its values appended to `values`. */
export function filterCondition(filter: WorkflowFilter, values: unknown[]): string {
  const conditions: string[] = [];
  const param = (value: unknown) => {
    values.push(value);
    return `$${values.length}`;
  };
  if (filter.status) conditions.push(`w.status = ANY(${param(filter.status)}::text[])`);
  if (filter.name !== undefined) conditions.push(`w.workflow_name = ${param(filter.name)}`);
  if (filter.executor !== undefined) conditions.push(`w.executor_id = ${param(filter.executor)}`);
  if (filter.user !== undefined) conditions.push(`w.authenticated_user = ${param(filter.user)}`);
  if (filter.parent !== undefined) conditions.push(`w.parent_uuid = ${param(filter.parent)}`);
  if (filter.queue !== undefined) conditions.push(`w.queue_name = ${param(filter.queue)}`);
  if (filter.version !== undefined) conditions.push(`w.version = ${param(filter.version)}`);
  if (filter.createdAfter !== undefined) conditions.push(`w.created_at > ${param(filter.createdAfter)}`);
  if (filter.createdBefore !== undefined) conditions.push(`w.created_at < ${param(filter.createdBefore)}`);
  // Operations invoked from outside a workflow are rows too, but an operator manages workflows.
  conditions.push(`w.kind = 'workflow'`);
  return conditions.join(' AND ');
}
