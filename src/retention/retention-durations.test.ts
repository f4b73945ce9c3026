import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expectNoEngineError, oddValue } from '../../test/support/odd-values.js';
import {
  addRetentionDuration,
  isRetentionDuration,
  parseRetentionDuration,
  parseRetentionText,
  retentionCutoff,
} from './retention-durations.js';

const fields = (text: string) => {
  const { years, months, days, hours, minutes, seconds } = parseRetentionDuration(text);
  return { years, months, days, hours, minutes, seconds };
};

describe('parseRetentionDuration', () => {
  it('reads ISO 8601', () => {
    expect(fields('P1Y2M10DT2H30M')).toEqual({
      years: 1,
      months: 2,
      days: 10,
      hours: 2,
      minutes: 30,
      seconds: 0,
    });
    expect(fields('P2W').days).toBe(14);
    expect(fields('PT12H').hours).toBe(12);
    expect(parseRetentionDuration('P90D').text).toBe('P90D');
  });
  it('reads English, case-insensitive, singular or plural, with anchors', () => {
    expect(fields('90 days').days).toBe(90);
    expect(fields('1 Year 6 MONTHS')).toMatchObject({ years: 1, months: 6 });
    expect(fields('1 week')).toMatchObject({ days: 7 });
    expect(fields('0 days').days).toBe(0);
    expect(parseRetentionText('2 years after resolution')).toMatchObject({ anchor: 'resolution' });
    expect(parseRetentionText('3 years no login')).toMatchObject({ anchor: 'no login' });
    expect(parseRetentionText('90 days').anchor).toBeUndefined();
  });
  it('refuses bad text with a TypeError naming the argument', () => {
    for (const bad of [
      '',
      'P',
      'PT',
      'P-1D',
      '-1 days',
      '1.5 days',
      'P1.5D',
      'days',
      '90 fortnights',
      'P1D after x',
      '1 day 2 days',
    ]) {
      expect(() => parseRetentionDuration(bad, 'keep')).toThrow(/^keep must be/);
    }
    expect(() => parseRetentionDuration('1001 years')).toThrow(/at most 1000 years/);
    expect(() => parseRetentionDuration('P400000D')).toThrow(/at most 1000 years/);
    expect(parseRetentionDuration('1000 years').years).toBe(1000);
  });
  it('answers odd arguments with a TypeError naming them', async () => {
    await fc.assert(
      fc.asyncProperty(oddValue, async (make) => {
        await expectNoEngineError('duration', () => parseRetentionDuration(make() as string));
        await expectNoEngineError('duration', () => addRetentionDuration(0, make() as never));
        await expectNoEngineError('at', () =>
          addRetentionDuration(make() as number, parseRetentionDuration('P1D')),
        );
        await expectNoEngineError('now', () =>
          retentionCutoff(make() as number, parseRetentionDuration('P1D')),
        );
        expect(isRetentionDuration(make())).toBe(false);
      }),
      { numRuns: 200 },
    );
  });
  it('returns frozen durations', () => {
    expect(Object.isFrozen(parseRetentionDuration('P1D'))).toBe(true);
  });
});

describe('addRetentionDuration', () => {
  it('ends a period whose day the final month lacks with that month, in UTC', () => {
    const d = parseRetentionDuration('P1M');
    expect(addRetentionDuration(Date.UTC(2025, 0, 31), d).toISOString()).toBe(
      '2025-03-01T00:00:00.000Z',
    );
    expect(addRetentionDuration(new Date('2024-01-31T10:00:00Z'), d).toISOString()).toBe(
      '2024-03-01T00:00:00.000Z',
    );
    expect(addRetentionDuration(new Date('2024-01-29T10:00:00Z'), d).toISOString()).toBe(
      '2024-02-29T10:00:00.000Z',
    );
    expect(
      addRetentionDuration(Date.UTC(2024, 1, 29), parseRetentionDuration('1 year')).toISOString(),
    ).toBe('2025-03-01T00:00:00.000Z');
  });
  it('never ends a later time earlier (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: Date.UTC(1990, 0, 1), max: Date.UTC(2090, 0, 1) }),
        fc.integer({ min: 0, max: 200 * 86_400_000 }),
        fc.constantFrom('P1M', 'P3M', 'P1Y', 'P2Y6M', '1 month 1 day', 'P29D', 'PT12H', '7 years'),
        (t, gap, text) => {
          const d = parseRetentionDuration(text);
          expect(addRetentionDuration(t + gap, d).getTime()).toBeGreaterThanOrEqual(
            addRetentionDuration(t, d).getTime(),
          );
        },
      ),
      { numRuns: 2000 },
    );
  });
  it('applies years, then months, then days, then time', () => {
    // Jan 30 + 1 month = Feb 28 (2025 has no Feb 30: the month's end, Mar 1 00:00), + 1 day =
    // Mar 2; Jan 15 + 1 month + 1 day = Feb 16 (days after months, not before).
    expect(
      addRetentionDuration(
        Date.UTC(2025, 0, 30),
        parseRetentionDuration('1 month 1 day'),
      ).toISOString(),
    ).toBe('2025-03-02T00:00:00.000Z');
    expect(
      addRetentionDuration(
        Date.UTC(2025, 0, 15),
        parseRetentionDuration('1 month 1 day'),
      ).toISOString(),
    ).toBe('2025-02-16T00:00:00.000Z');
    expect(
      addRetentionDuration(Date.UTC(2025, 0, 1, 23), parseRetentionDuration('PT2H')).toISOString(),
    ).toBe('2025-01-02T01:00:00.000Z');
  });
});

const durationArb = fc
  .record({
    years: fc.integer({ min: 0, max: 20 }),
    months: fc.integer({ min: 0, max: 30 }),
    days: fc.integer({ min: 0, max: 400 }),
    hours: fc.integer({ min: 0, max: 48 }),
    minutes: fc.integer({ min: 0, max: 120 }),
    seconds: fc.integer({ min: 0, max: 120 }),
  })
  .map((p) =>
    parseRetentionDuration(
      `P${p.years}Y${p.months}M${p.days}DT${p.hours}H${p.minutes}M${p.seconds}S`,
    ),
  );

describe('retentionCutoff', () => {
  it('is the latest time whose add is not after now', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: Date.UTC(1990, 0, 1), max: Date.UTC(2200, 0, 1) }),
        fc.oneof(
          durationArb,
          fc.constantFrom(
            ...['P1M', 'P1Y', '1 month 1 day', 'P3M', '0 days'].map((t) =>
              parseRetentionDuration(t),
            ),
          ),
        ),
        (now, duration) => {
          const cutoff = retentionCutoff(now, duration).getTime();
          expect(addRetentionDuration(cutoff, duration).getTime()).toBeLessThanOrEqual(now);
          expect(addRetentionDuration(cutoff + 1, duration).getTime()).toBeGreaterThan(now);
        },
      ),
      { numRuns: 2500 },
    );
  });
  it('includes every day that clamps onto the same date', () => {
    const cutoff = retentionCutoff(
      Date.UTC(2025, 1, 28, 23, 59, 59, 999),
      parseRetentionDuration('P1M'),
    );
    // Jan 29–31 end at 1 March 00:00: not yet due one millisecond before.
    expect(cutoff.toISOString()).toBe('2025-01-28T23:59:59.999Z');
    expect(retentionCutoff(Date.UTC(2025, 2, 1), parseRetentionDuration('P1M')).toISOString()).toBe(
      '2025-01-31T23:59:59.999Z',
    );
  });
});
