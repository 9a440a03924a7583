/**
 * Regression: a stored Date is its ISO text (null for an invalid date). A damaged record whose Date
 * held anything else was read as some date instead of being refused: the number 0 as
 * 2000-01-01 (the language's parser takes "0" for a year), "2020" as 2020-01-01, and text that is
 * no date at all ("garbage") as an invalid Date, which the writer stores as null, never as text.
 * In format 3 (and 2) as in format 1; a Date's content is now its ISO text or null, or refused.
 */
import { describe, expect, it } from 'vitest';
import { OperonValueFormatError, registerSerializableClass } from '@operon/sdk';
import { decodeStoredValue, encodeStoredValue } from '@operon/runtime';

class Deadline extends Date {}
registerSerializableClass(Deadline, 'DamagedDateDeadline');

const flat = (format: number, content: unknown, kind = 'Date'): string => JSON.stringify({ $operon: format, value: { at: content }, types: { at: kind } });
const tagged = (content: unknown): string => JSON.stringify({ $operon: 1, value: { at: { $type: 'Date', value: content } } });

describe('a stored Date', () => {
  it('that holds no date is refused, in every format', () => {
    for (const content of [0, 1e12, true, [2020], {}, 'garbage', '', '2020-13-45T00:00:00.000Z']) {
      expect(() => decodeStoredValue(flat(3, content)), `format 3, ${JSON.stringify(content)}`).toThrow(OperonValueFormatError);
      expect(() => decodeStoredValue(flat(2, content)), `format 2, ${JSON.stringify(content)}`).toThrow(OperonValueFormatError);
      expect(() => decodeStoredValue(tagged(content)), `format 1, ${JSON.stringify(content)}`).toThrow(OperonValueFormatError);
    }
    expect(() => decodeStoredValue(JSON.stringify({ $operon: 3, value: { at: { value: 0, fields: {} } }, types: { at: 'subclass:Date:DamagedDateDeadline' } }))).toThrow(OperonValueFormatError);
  });

  it('that is valid, invalid or far from now still reads back', () => {
    const value = { dates: [new Date(0), new Date(Number.NaN), new Date(-8.64e15), new Date(8.64e15), new Date(Date.UTC(999, 11, 31, 23, 59, 59, 999))], deadline: new Deadline(5) };
    const shared = new Date(7);
    for (const v of [value, { ...value, shared, again: shared }]) {
      const back = decodeStoredValue<typeof v>(encodeStoredValue(v, 'output', 'the output of Dates.all'));
      expect(back).toEqual(v);
      expect(back.deadline).toBeInstanceOf(Deadline);
    }
  });
});
