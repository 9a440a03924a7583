/** What every context shares: a lazily created logger child, a span, and config look-ups. */
import type { Logger } from 'pino';
import type { OperonSpan } from '@operon/sdk';

/** The span of a context while tracing is off: accepts everything, records nothing. */
export const NOOP_SPAN: OperonSpan = {
  setAttribute: () => NOOP_SPAN,
  addEvent: () => NOOP_SPAN,
};

/** Reads a dotted path (`a.b.c`) from the app's `application` config section. */
export function readConfigPath<T>(application: Readonly<Record<string, unknown>>, key: string, defaultValue?: T): T | undefined {
  let node: unknown = application;
  for (const part of key.split('.')) {
    if (typeof node !== 'object' || node === null || !(part in node)) return defaultValue;
    node = (node as Record<string, unknown>)[part];
  }
  return node as T;
}

/** Builds the child logger only when a context actually logs: most operations never do. */
export function lazyLogger(parent: Logger, bindings: () => Record<string, unknown>): () => Logger {
  let child: Logger | undefined;
  return () => (child ??= parent.child(bindings()));
}
