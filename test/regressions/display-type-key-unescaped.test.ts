/**
 * Regression: for display (the management API, the dashboard) a stored value is shown as format
 * 1's tagged tree, whichever format holds it, and there a plain object that has a `$type` key of
 * its own is escaped (`{"$type":"Object","value":{…}}`) so it cannot pass for a tag. A value in
 * format 2 (now 3) was shown with such objects as they are: an app's `{ $type: 'Date', value: 'soon' }`
 * looked exactly like a Date, and the same value showed differently in the two formats.
 */
import { describe, expect, it } from 'vitest';
import { registerSerializableClass } from '@operon/sdk';
import { encodeStoredValue, storedValueForDisplay } from '@operon/runtime';

class Parcel {
  constructor(readonly label: { $type: string }) {}
}
registerSerializableClass(Parcel, 'DisplayParcel');

const encode = (value: unknown): string => encodeStoredValue(value, 'value', 'the test value');
const lookalike = (): { $type: string; value: string } => ({ $type: 'Date', value: 'soon' });

describe('a stored value shown for display', () => {
  it('escapes a plain object with its own $type key in format 3 as format 1 does, wherever it sits', () => {
    const value = () => {
      const error = new Error('failed');
      (error as unknown as Record<string, unknown>).detail = lookalike();
      return {
        at: new Date(0),
        top: lookalike(),
        list: [lookalike(), 1n],
        map: new Map<unknown, unknown>([[lookalike(), lookalike()]]),
        set: new Set([lookalike()]),
        parcel: new Parcel(lookalike()),
        error,
      };
    };
    const flat = encode(value());
    expect((JSON.parse(flat) as { $operon: number }).$operon).toBe(3);
    // The same value with a shared reference beside it is written in format 1.
    const shared = {};
    const tagged = encode({ ...value(), s: shared, again: shared });
    expect((JSON.parse(tagged) as { $operon: number }).$operon).toBe(1);
    const shownTagged = storedValueForDisplay(tagged) as Record<string, unknown>;
    const shownFlat = storedValueForDisplay(flat) as Record<string, unknown>;
    const escaped = { $type: 'Object', value: { $type: 'Date', value: 'soon' } };
    expect(shownTagged.top).toEqual(escaped);
    for (const key of ['at', 'top', 'list', 'map', 'set', 'parcel']) expect(shownFlat[key], key).toEqual(shownTagged[key]);
    expect((shownFlat.error as { value: { fields: unknown } }).value.fields).toEqual({ detail: escaped });
  });
});
