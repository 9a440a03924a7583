/** Small display helpers shared by the views. */

export function shortTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

/** A recorded value as readable JSON (errors keep their name and message on top). */
export function shown(value: unknown): string {
  if (value === undefined) return 'undefined';
  try {
    return JSON.stringify(value, null, 2) ?? String(value);
  } catch {
    return String(value);
  }
}

export const ENDED = new Set(['SUCCESS', 'ERROR', 'CANCELLED', 'RETRIES_EXCEEDED']);
export const STATUSES = ['PENDING', 'ENQUEUED', 'SUCCESS', 'ERROR', 'CANCELLED', 'RETRIES_EXCEEDED'];

export function workflowHref(uuid: string): string {
  return `#/workflows/${encodeURIComponent(uuid)}`;
}
