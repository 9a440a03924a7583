/**
 * Every management route, with a request that succeeds for a caller with the role (on a runtime
 * where workflow `access-done` has ended): the access test runs each through every identity.
 */
export interface RouteCase {
  readonly method: 'GET' | 'POST';
  readonly url: string;
  readonly access: 'read' | 'change';
  readonly body?: object;
  /** @default 200 */
  readonly okStatus?: number;
}

export const MANAGEMENT_ROUTES: readonly RouteCase[] = [
  { method: 'GET', url: '/operon/executors', access: 'read' },
  { method: 'GET', url: '/operon/queues', access: 'read' },
  { method: 'GET', url: '/operon/schedules', access: 'read' },
  { method: 'GET', url: '/operon/versions', access: 'read' },
  { method: 'GET', url: '/operon/workflows', access: 'read' },
  { method: 'GET', url: '/operon/workflows/access-done', access: 'read' },
  { method: 'GET', url: '/operon/workflows/access-done/steps', access: 'read' },
  { method: 'GET', url: '/operon/metrics', access: 'read' },
  { method: 'GET', url: '/operon/audit', access: 'read' },
  // It has ended: 409 once access is granted.
  { method: 'POST', url: '/operon/workflows/access-done/cancel', access: 'change', body: {}, okStatus: 409 },
  { method: 'POST', url: '/operon/workflows/access-done/resume', access: 'change', body: {}, okStatus: 409 },
  { method: 'POST', url: '/operon/workflows/access-done/restart', access: 'change', body: {} },
  { method: 'POST', url: '/operon/workflows/access-done/fork', access: 'change', body: { fromStep: 0 } },
  { method: 'POST', url: '/operon/workflows/cancel', access: 'change', body: { name: 'Nothing.here' } },
  { method: 'POST', url: '/operon/workflows/resume', access: 'change', body: { name: 'Nothing.here' } },
];
