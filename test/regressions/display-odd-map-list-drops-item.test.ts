/**
 * Regression: format 3 stores a Map as the flat list of its keys and values. Reading a record
 * whose Map list has an odd number of items refuses it as damaged, but its display (the
 * management API, the dashboard) paired the items up and silently left the last one out: an
 * operator saw a whole-looking Map of fewer entries than the record holds. And a damaged record
 * shown "as stored" was shown with the parts met before the damage already turned into tags, a
 * mix of the two forms. A damaged record is now shown exactly as it is stored.
 */
import { describe, expect, it } from 'vitest';
import { OperonValueFormatError } from '@operon/sdk';
import { decodeStoredValue, storedValueForDisplay } from '@operon/runtime';

describe('a damaged format 3 Map shown for display', () => {
  it('shows every item it holds, as stored, when its list is not keys and values', () => {
    const damaged = JSON.stringify({ $operon: 3, value: { m: ['a', 1, 'b'] }, types: { m: 'Map' } });
    expect(() => decodeStoredValue(damaged)).toThrow(OperonValueFormatError);
    expect(storedValueForDisplay(damaged)).toEqual({ m: ['a', 1, 'b'] });
    const inSubclass = JSON.stringify({ $operon: 3, value: { value: ['a', 1, 'b'], fields: {} }, types: 'subclass:Map:Registry' });
    expect(storedValueForDisplay(inSubclass)).toEqual({ value: ['a', 1, 'b'], fields: {} });
  });

  it('shows a damaged record as stored, with none of its parts turned into tags', () => {
    const damaged = JSON.stringify({ $operon: 3, value: { n: '1', at: '2025-01-01T00:00:00.000Z', r: '/x' }, types: { n: 'bigint', at: 'Date', r: 'RegExp' } });
    expect(() => decodeStoredValue(damaged)).toThrow(OperonValueFormatError);
    expect(storedValueForDisplay(damaged)).toEqual({ n: '1', at: '2025-01-01T00:00:00.000Z', r: '/x' });
  });

  it('still pairs a whole list up as format 1 shows a Map', () => {
    const whole = JSON.stringify({ $operon: 3, value: { m: ['a', 1, 'b', 2] }, types: { m: 'Map' } });
    expect(storedValueForDisplay(whole)).toEqual({ m: { $type: 'Map', value: [['a', 1], ['b', 2]] } });
  });
});
