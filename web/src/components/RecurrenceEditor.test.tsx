import { describe, expect, test } from 'vitest';
import { describeCron } from './RecurrenceEditor';

describe('describeCron', () => {
  test('reads five fields in words', () => {
    expect(describeCron('0 9 * * MON')).toEqual({ text: expect.stringContaining('09:00'), valid: true });
    expect(describeCron('0 9 * * MON').text).toMatch(/Monday/);
  });

  test('refuses six fields and nonsense', () => {
    expect(describeCron('0 0 9 * * MON').valid).toBe(false);
    expect(describeCron('every day').valid).toBe(false);
    expect(describeCron('99 9 * * *').valid).toBe(false);
  });
});
