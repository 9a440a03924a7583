/** What every context shares: a lazily created logger child, a span, and config look-ups. */
import type { Logger } from 'pino';
import type { OperonSpan } from '@operon/sdk';
import { getConfigValue } from '../config/load-config.js';

/** The span of a context while tracing is off: accepts everything, records nothing. */
export const NOOP_SPAN: OperonSpan = {
  setAttribute: () => NOOP_SPAN,
  addEvent: () => NOOP_SPAN,
};

/**
 * Reads a dotted path (`a.b.c`) from the app's `application` config section, as every context's
 * `getConfig` does: own properties only (so `constructor` or `__proto__` never reach
 * Object.prototype), and a missing, null or empty key gives the default.
 */
export function readConfigPath<T>(application: Readonly<Record<string, unknown>>, key: string, defaultValue?: T): T | undefined {
  return getConfigValue({ application }, key, defaultValue);
}

/** Builds the child logger only when a context actually logs: most operations never do. */
export function lazyLogger(parent: Logger, bindings: () => Record<string, unknown>): () => Logger {
  let child: Logger | undefined;
  return () => (child ??= parent.child(bindings()));
}

/** The lazy logger of one operation of a workflow: every line names the workflow, the operation and its id. */
export function operationLogger(
  parent: Logger,
  site: { readonly workflowUUID: string; readonly functionID: number },
  operationName: string,
  operationType: 'transaction' | 'communicator',
): () => Logger {
  return lazyLogger(parent, () => ({ workflowUUID: site.workflowUUID, operationName, operationType, functionID: site.functionID }));
}
