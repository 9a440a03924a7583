/** Which collector workflow hears of an order: a stable hash, so a retried request picks the same one. */
export function collectorFor(orderId: string, collectors: readonly string[]): string {
  if (collectors.length === 0) throw new Error('application.collectors lists no collector workflow');
  // FNV-1a: small, stable across processes and Node versions.
  let hash = 0x811c9dc5;
  for (let i = 0; i < orderId.length; i++) {
    hash ^= orderId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return collectors[hash % collectors.length]!;
}
