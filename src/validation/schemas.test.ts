import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { money, nonEmptyArray, positiveQuantity, utcDateTime } from './index.js';

describe('schema helpers', () => {
  it('money: integer minor units with an ISO 4217 currency', () => {
    const Price = money();
    expect(Price.parse({ amount: 1999, currency: 'EUR' })).toEqual({
      amount: 1999,
      currency: 'EUR',
    });
    expect(Price.safeParse({ amount: 19.99, currency: 'EUR' }).success).toBe(false);
    expect(Price.safeParse({ amount: -1, currency: 'EUR' }).success).toBe(false);
    expect(Price.safeParse({ amount: 1, currency: 'eur' }).success).toBe(false);
    expect(Price.safeParse({ amount: 1, currency: 'EURO' }).success).toBe(false);
    const Refund = money({ min: -10_000, max: 10_000, currencies: ['EUR', 'USD'] });
    expect(Refund.safeParse({ amount: -500, currency: 'USD' }).success).toBe(true);
    expect(Refund.safeParse({ amount: 500, currency: 'GBP' }).success).toBe(false);
    expect(Refund.safeParse({ amount: 10_001, currency: 'EUR' }).success).toBe(false);
    const amountIssues = (amount: number) =>
      Price.safeParse({ amount, currency: 'EUR' }).error?.issues.map((i) => [i.code, i.message]);
    expect(amountIssues(-1)).toEqual([['too_small', 'Expected at least 0']]);
    expect(amountIssues(2 ** 53)).toHaveLength(1); // the safe-integer limit, reported once
    expect(amountIssues(1.5)).toEqual([
      ['invalid_type', 'Expected an integer amount in minor units (cents)'],
    ]);
    expect(() => money({ currencies: ['euro'] })).toThrow(/options.currencies/);
    expect(() => money({ min: 10, max: 5 })).toThrow(/options.max/);
  });

  it('positiveQuantity: whole numbers from 1, bounded', () => {
    const Qty = positiveQuantity({ max: 1000 });
    expect(Qty.parse(1)).toBe(1);
    for (const bad of [0, -1, 1.5, 1001, '2', Number.NaN])
      expect(Qty.safeParse(bad).success).toBe(false);
    expect(positiveQuantity().safeParse(2_147_483_648).success).toBe(false);
    const messages = (value: unknown) => Qty.safeParse(value).error?.issues.map((i) => i.message);
    expect(messages(1001)).toEqual(['Expected at most 1000']);
    expect(messages(0)).toEqual(['Expected at least 1']);
    expect(messages(1.5)).toEqual(['Expected a whole number']);
    expect(() => positiveQuantity({ max: 0 })).toThrow(/options.max/);
  });

  it('nonEmptyArray: at least one element, optionally bounded', () => {
    const Items = nonEmptyArray(z.string(), { max: 2 });
    expect(Items.parse(['a'])).toEqual(['a']);
    expect(Items.safeParse([]).error?.issues[0]?.message).toBe('Expected at least one item');
    expect(Items.safeParse(['a', 'b', 'c']).success).toBe(false);
    expect(() => nonEmptyArray('x' as never)).toThrow(/element must be a zod schema/);
  });

  it('utcDateTime is the core helper: offsets required, normalised to UTC', () => {
    expect(utcDateTime().parse('2026-01-01T14:00:00+02:00')).toBe('2026-01-01T12:00:00.000Z');
    expect(utcDateTime().safeParse('2026-01-01T14:00:00').success).toBe(false);
  });
});
