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
  { method: 'GET', url: '/operon/workflows', access: 'read' },
  { method: 'GET', url: '/operon/workflows/access-done', access: 'read' },
  { method: 'GET', url: '/operon/workflows/access-done/steps', access: 'read' },
  { method: 'GET', url: '/operon/metrics', access: 'read' },
];
