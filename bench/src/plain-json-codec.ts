/**
 * The baseline of `pnpm bench:values-w3`, never part of the runtime: the stored-value codec's
 * module (packages/runtime/src/executor/value-codec.ts) replaced by plain JSON, as every value was
 * stored before the codec. values-w3-worker.ts puts this module in the runtime's place, for the
 * baseline's worker processes only, when the runtime is loaded. It exports what the codec's module
 * exports, so the rest of the runtime runs unchanged; it holds W3's values (plain JSON) as the
 * codec does, byte for byte, and nothing JSON cannot hold.
 */

export const ENVELOPE_KEY = '$operon';
export const FORMAT = 3;
export const ENTRIES_FORMAT = 2;
export const TAGGED_FORMAT = 1;

export function describe(value: unknown): string {
  try {
    return typeof value === 'string' ? value : String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

export function encodeValue(value: unknown, root: string, what: string): string {
  const text = JSON.stringify(value);
  if (text === undefined) throw new Error(`${what} cannot be stored as plain JSON: ${root} is a ${typeof value}`);
  return text;
}

/** An error as records before the codec held it: name, message, stack and its own fields. */
export function encodeErrorValue(error: Error): string {
  const fields: Record<string, unknown> = {};
  for (const key of Object.keys(error)) {
    if (key !== 'name' && key !== 'message' && key !== 'stack') fields[key] = (error as unknown as Record<string, unknown>)[key];
  }
  return JSON.stringify({ name: error.name, message: error.message, stack: error.stack, fields });
}

export function sameStoredValue(a: string, b: string): boolean {
  return a === b;
}

/** Plain JSON has no envelope: every record reads as plain JSON. */
export function envelopeOf(_parsed: unknown): undefined {
  return undefined;
}

export function decodeValue<T>(text: string | null): T {
  return (text === null ? undefined : JSON.parse(text)) as T;
}

export function decodeEnvelope(_envelope: unknown): never {
  throw new Error('the plain JSON baseline reads no envelope');
}

export function storedValueForDisplay(text: string | null): unknown {
  return text === null ? null : JSON.parse(text);
}
