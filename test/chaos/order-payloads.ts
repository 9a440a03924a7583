/**
 * What the load puts in an order's payload: ordinary text, and text that breaks careless code
 * (SQL injection, quotes, backslashes, placeholders, non-Latin scripts, emoji, JSON look-alikes).
 * Every payload must come back from the database exactly as it was sent. No NUL characters or
 * lone surrogates: Postgres text cannot hold the first, UTF-8 cannot hold the second.
 */
import type { SeededRandom } from './seeded-random.js';

export const HOSTILE_STRINGS: readonly string[] = [
  "'; DROP TABLE chaos_orders; --",
  "Robert'); DROP TABLE chaos_receipts;--",
  "' OR '1'='1",
  "1; DELETE FROM operon.workflow_status WHERE true; --",
  "$1 $2 $$ $body$ ' || pg_sleep(5) || '",
  "\\'; SELECT pg_terminate_backend(pid) FROM pg_stat_activity; --",
  "E'\\\\x00' \\x00 \\u0000",
  '"; COMMIT; BEGIN; --',
  '{"orderId":"other","payload":"x"}',
  '<script>alert(1)</script>',
  '../../../../etc/passwd',
  '%s%s%s%n %x ${process.env} {{7*7}}',
  'ünïcödé — 名前 — مرحبا — 🚀🔥 — \u200b\u202e',
  ' leading and trailing spaces ',
  'line\nbreaks\r\nand\ttabs',
  '',
];

const WORDS = ['widget', 'gadget', 'order', 'express', 'gift', 'blue', 'large', 'refill', 'sample', 'crate'];

export function orderPayload(rng: SeededRandom): string {
  const roll = rng.next();
  if (roll < 0.25) return rng.pick(HOSTILE_STRINGS);
  if (roll < 0.3) return rng.pick(WORDS).repeat(rng.int(50, 400));
  const words: string[] = [];
  for (let i = rng.int(1, 8); i > 0; i--) words.push(rng.pick(WORDS));
  return words.join(' ');
}
