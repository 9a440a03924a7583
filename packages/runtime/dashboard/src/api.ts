/**
 * The management API as the page calls it: same origin, JSON. The dashboard link's `?token=` was
 * exchanged by the server for an HttpOnly cookie (scoped to /operon), so the page's own requests
 * carry the identity without any script ever holding the token.
 */

/** A failed call: `status` 0 when the server could not be reached. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(path, { method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (error) {
    throw new ApiError(0, `the server did not answer (${(error as Error).message})`);
  }
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = text;
  }
  if (!response.ok) {
    const message = (parsed as { error?: unknown; message?: unknown } | undefined)?.error ?? (parsed as { message?: unknown } | undefined)?.message;
    throw new ApiError(response.status, typeof message === 'string' ? message : `${method} ${path} answered ${response.status}`);
  }
  return parsed as T;
}

export const get = <T>(path: string) => call<T>('GET', path);
export const post = <T>(path: string, body: unknown = {}) => call<T>('POST', path, body);

/** A list answered either bare or as the one array inside an object (`{ steps: [...] }`). */
export function listOf<T>(answer: unknown): T[] {
  if (Array.isArray(answer)) return answer as T[];
  if (answer && typeof answer === 'object') {
    const arrays = Object.values(answer).filter(Array.isArray);
    if (arrays.length === 1) return arrays[0] as T[];
  }
  return [];
}

export interface WorkflowSummary {
  readonly workflowUUID: string;
  readonly status: string;
  readonly workflowName: string;
  readonly executorId: string;
  readonly authenticatedUser: string;
  readonly parentUUID: string | null;
  readonly queueName?: string | null;
  readonly version?: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface WorkflowPage {
  readonly workflows: WorkflowSummary[];
  readonly nextCursor: string | null;
}

export interface WorkflowDetail extends WorkflowSummary {
  readonly inputs: unknown;
  readonly output: unknown;
  readonly error: unknown;
  readonly assumedRole?: string;
  readonly authenticatedRoles?: readonly string[];
  readonly children: WorkflowSummary[];
  /** Children its records started that no longer exist. */
  readonly removedChildren?: readonly { readonly functionID: number; readonly workflowUUID: string; readonly resultRead: boolean }[];
  readonly waitingOn: ({ readonly kind: string } & Record<string, unknown>) | null;
  readonly stuck: boolean;
}

export interface StepTarget {
  readonly destinationUUID?: string;
  readonly workflowUUID?: string;
  readonly topic?: string | null;
  readonly key?: string;
}

export interface Step {
  readonly functionID: number;
  readonly functionName: string;
  readonly kind: string;
  /** Null for a record written before starts were recorded. */
  readonly startedAt: string | null;
  readonly endedAt: string;
  /** What a send, recv, setEvent or getEvent addressed. */
  readonly target?: StepTarget | null;
  readonly output: unknown;
  readonly error: unknown;
  readonly childUUID: string | null;
  readonly messageConsumed?: unknown;
  readonly eventSet?: unknown;
  readonly deadline: string | null;
}
