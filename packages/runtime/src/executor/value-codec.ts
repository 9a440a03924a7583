/**
 * The stored form of values: JSON text an operator can query. A value JSON holds as it is (no
 * `undefined`, no special number, no shared object, nothing but plain objects and arrays) is
 * stored as its plain JSON, exactly as every record before this codec was. Anything else is
 * stored in an envelope that names its format, `{"$operon":3,"value":…,"types":…}`: the value as
 * plain JSON and, beside it, the tree of the places that hold what JSON cannot (flat-format.ts).
 * A value with a shared or circular reference, and a recorded error, are written in format 1,
 * where each such part is a tagged object in its place (tagged-format.ts). Formats 1, 2 (format 3
 * with a Map as its list of entries) and 3, and plain JSON, read back.
 *
 * Reading never runs code a record names: a class is looked up by name among the registered
 * ones (a Map, so `constructor` or `__proto__` finds nothing), its constructor never runs, and
 * every key is defined, never assigned, so a stored `__proto__` key is just a key.
 */
import { OperonError, OperonValueFormatError, OperonValueNotSerializableError } from '@operon/sdk';
import { FlatEncoder, decodeFlat, taggedTree, typeKeyedObjects } from './flat-format.js';
import { TaggedDecoder, TaggedEncoder } from './tagged-format.js';
import { Unstorable, describe, formatPath, isStackOverflow } from './value-kinds.js';

export { describe } from './value-kinds.js';

/** The envelope's key and the format this runtime writes; a later format gets a new number. */
export const ENVELOPE_KEY = '$operon';
/** Plain values with parts JSON cannot hold: the value as plain JSON, the places of those parts beside it. */
export const FORMAT = 3;
/** Format 3 before it wrote a Map as a flat list of keys and values (it wrote a list of entries); still read. */
export const ENTRIES_FORMAT = 2;
/** Values with shared or circular references, and recorded errors: a tagged object in place of each such part. */
export const TAGGED_FORMAT = 1;

/**
 * The stored text of `value`. `root` names the value in an error's path (`inputs`); `what` says
 * whose value it is (`the inputs of Shop.order`). Throws OperonValueNotSerializableError naming
 * the path of the first part that cannot be stored.
 */
export function encodeValue(value: unknown, root: string, what: string): string {
  try {
    const encoder = new FlatEncoder();
    const tree = encoder.encode(value);
    // A shared or circular reference: the copy is written in format 1, which holds references.
    if (encoder.references) return JSON.stringify({ [ENVELOPE_KEY]: TAGGED_FORMAT, value: taggedTree(tree, encoder.node, 'flat', encoder.typeKeyed) });
    // A plain object that has the envelope's key would read as an envelope: it goes in one.
    if (encoder.tagged || (typeof value === 'object' && value !== null && !Array.isArray(value) && Object.hasOwn(value, ENVELOPE_KEY))) {
      const types = encoder.node;
      return JSON.stringify(types === undefined ? { [ENVELOPE_KEY]: FORMAT, value: tree } : { [ENVELOPE_KEY]: FORMAT, value: tree, types });
    }
    // Nothing typed: the value is plain JSON, stored as exactly its JSON text (written from the
    // walk's copy, so no getter is read twice).
    return JSON.stringify(tree);
  } catch (error) {
    if (isStackOverflow(error)) throw new OperonValueNotSerializableError(`${what} cannot be stored: ${root} is nested too deeply`, root);
    const failure = error instanceof Unstorable ? error : new Unstorable('', error);
    const path = formatPath(root, failure.steps.reverse());
    // A getter, or a Proxy's trap (a revoked Proxy): the part being read is the one that cannot be stored.
    const message = failure.reason !== '' ? `${what} cannot be stored: ${path} ${failure.reason}` : `${what} cannot be stored: reading ${path} threw: ${describe(failure.threw)}`;
    throw new OperonValueNotSerializableError(message, path);
  }
}

/** An error's stored text; never throws, whatever its fields hold (they are stored as far as they can be). */
export function encodeErrorValue(error: Error): string {
  try {
    return errorText(error);
  } catch {
    // A Proxy or a throwing ownKeys among its fields: then the error as its message alone.
    let message = '';
    try {
      message = describe(error.message);
    } catch {
      message = describe(error);
    }
    return errorText(new Error(message));
  }
}

function errorText(error: Error): string {
  return JSON.stringify({ [ENVELOPE_KEY]: TAGGED_FORMAT, value: new TaggedEncoder(true).encode(error) });
}

/**
 * Whether two stored texts hold the same value. The same text is; texts that differ may still
 * hold one value written in two formats (a record an earlier version wrote in format 1, and this
 * version's format 3 text of the same value), so each is read back and written again in the
 * current format. A text that cannot be read here (a class not registered) holds no value to compare.
 */
export function sameStoredValue(a: string, b: string): boolean {
  if (a === b) return true;
  try {
    return encodeValue(decodeValue(a), 'value', 'a stored value') === encodeValue(decodeValue(b), 'value', 'a stored value');
  } catch {
    return false;
  }
}

/** A parsed record's envelope, or undefined if the record is plain JSON (of any version). */
export function envelopeOf(parsed: unknown): { format: 1 | 2 | 3; envelope: Record<string, unknown> } | undefined {
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || !Object.hasOwn(parsed, ENVELOPE_KEY)) return undefined;
  const format = (parsed as Record<string, unknown>)[ENVELOPE_KEY];
  if (format !== FORMAT && format !== ENTRIES_FORMAT && format !== TAGGED_FORMAT) {
    throw new OperonValueFormatError(`a stored value is in format ${JSON.stringify(format)}; this version of Operon reads formats 1, 2 and 3 and plain JSON`);
  }
  return { format, envelope: parsed as Record<string, unknown> };
}

/** A value back from its stored text (`null`: undefined). */
export function decodeValue<T>(text: string | null): T {
  if (text === null) return undefined as T;
  const parsed: unknown = JSON.parse(text);
  const envelope = envelopeOf(parsed);
  return (envelope ? decodeEnvelope(envelope) : parsed) as T;
}

/** An envelope's value, read back. A damaged record is an OperonValueFormatError, never a bare TypeError. */
export function decodeEnvelope({ format, envelope }: { format: 1 | 2 | 3; envelope: Record<string, unknown> }): unknown {
  try {
    if (format === TAGGED_FORMAT) return new TaggedDecoder().decode(envelope.value);
    return decodeFlat(envelope.value, envelope.types, format === FORMAT ? 'flat' : 'entries');
  } catch (error) {
    if (error instanceof OperonError) throw error;
    throw new OperonValueFormatError(`a stored value is damaged or nested too deeply to read: ${describe(error)}`);
  }
}

/**
 * A stored value as readable JSON for display (the management API, the dashboard): plain JSON as
 * stored; a value of an envelope as format 1's tagged tree (`{"$type":"Date","value":"2025-…"}`),
 * whichever format holds it. Nothing is revived, so it is safe on any record; undefined (SQL NULL)
 * shows as null.
 */
export function storedValueForDisplay(text: string | null): unknown {
  if (text === null) return null;
  const parsed: unknown = JSON.parse(text);
  if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) && Object.hasOwn(parsed, ENVELOPE_KEY)) {
    const envelope = parsed as Record<string, unknown>;
    const format = envelope[ENVELOPE_KEY];
    if (format === FORMAT || format === ENTRIES_FORMAT) {
      const maps = format === FORMAT ? 'flat' : 'entries';
      try {
        // A plain object with its own `$type` key is escaped, as format 1 holds it, so it shows as no tag.
        return taggedTree(envelope.value, envelope.types, maps, typeKeyedObjects(envelope.value, envelope.types, maps)) ?? null;
      } catch {
        // Damaged: shown as stored, read again (the walk may have turned parts of it into tags already).
        return (JSON.parse(text) as Record<string, unknown>).value ?? null;
      }
    }
    return envelope.value ?? null;
  }
  return parsed;
}
