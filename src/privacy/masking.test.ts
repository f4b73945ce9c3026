import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type MaskerName,
  maskCard,
  maskEmail,
  maskers,
  maskIban,
  maskPhone,
  maskSsn,
  maskText,
} from './masking.js';

/** Any UTF-16 unit, lone surrogates included. */
const utf16Unit = fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code));

/** Any string: printable, any code point, or any UTF-16 units (lone surrogates). */
const anyString = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.string({ unit: utf16Unit }),
  fc.string({ unit: fc.constantFrom('1', '2', '9', ' ', '-', '@', '+', '.', 'A', 'é', '😀') }),
);

const maskOptions = fc.record(
  {
    keepStart: fc.nat(8),
    keepEnd: fc.nat(8),
    char: fc.constantFrom('*', '•', '#', 'x', '😀'),
    minMasked: fc.nat(12),
  },
  { requiredKeys: [] },
);

/** The positions (code point indexes) `maskText` must show, by its documented rule. */
function expectedShown(length: number, options: Parameters<typeof maskText>[1] = {}): Set<number> {
  const keepStart = options.keepStart ?? 0;
  const keepEnd = options.keepEnd ?? 0;
  const minMasked = options.minMasked ?? keepStart + keepEnd;
  const hidden = length - keepStart - keepEnd;
  const shown = new Set<number>();
  if (hidden < 0 || hidden < minMasked) return shown;
  for (let index = 0; index < keepStart; index += 1) shown.add(index);
  for (let index = length - keepEnd; index < length; index += 1) shown.add(index);
  return shown;
}

/** How many of each character `text` holds, masks and layout left out. */
function characterCounts(text: string, ignore: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const point of text) {
    if (!ignore.includes(point)) counts.set(point, (counts.get(point) ?? 0) + 1);
  }
  return counts;
}

describe('maskText', () => {
  it('shows exactly the configured positions and masks the rest, for any string (property)', () => {
    fc.assert(
      fc.property(anyString, maskOptions, (value, options) => {
        const masked = Array.from(maskText(value, options));
        const original = Array.from(value);
        expect(masked).toHaveLength(original.length);
        const shown = expectedShown(original.length, options);
        for (const [index, point] of masked.entries()) {
          expect(point).toBe(shown.has(index) ? original[index] : (options.char ?? '*'));
        }
      }),
      { numRuns: 6000 },
    );
  });

  it('never shows more than keepStart + keepEnd characters, nor hides fewer than minMasked (property)', () => {
    fc.assert(
      fc.property(anyString, maskOptions, (value, options) => {
        const char = options.char ?? '*';
        const masked = Array.from(maskText(value, options));
        const hidden = masked.filter((point) => point === char).length;
        const shownCount = masked.length - hidden;
        expect(shownCount).toBeLessThanOrEqual((options.keepStart ?? 0) + (options.keepEnd ?? 0));
        if (shownCount > 0) {
          const keepSum = (options.keepStart ?? 0) + (options.keepEnd ?? 0);
          expect(masked.length - keepSum).toBeGreaterThanOrEqual(options.minMasked ?? keepSum);
        }
      }),
      { numRuns: 4000 },
    );
  });

  it('masking the masked text shows nothing the first mask hid (property)', () => {
    fc.assert(
      fc.property(anyString, maskOptions, (value, options) => {
        const once = Array.from(maskText(value, options));
        const twice = Array.from(maskText(once.join(''), options));
        const char = options.char ?? '*';
        for (const [index, point] of twice.entries()) {
          if (point !== char) expect(point).toBe(once[index]);
        }
      }),
      { numRuns: 4000 },
    );
  });

  it('masks whole values too short to hide minMasked characters', () => {
    expect(maskText('4111111111111111', { keepEnd: 4 })).toBe('************1111');
    expect(maskText('12345', { keepEnd: 4 })).toBe('*****');
    expect(maskText('123456789', { keepStart: 2, keepEnd: 2, minMasked: 6 })).toBe('*********');
    expect(maskText('1234567890', { keepStart: 2, keepEnd: 2, minMasked: 6 })).toBe('12******90');
    expect(maskText('ab', { keepStart: 1, keepEnd: 1, minMasked: 0 })).toBe('ab');
    expect(maskText('')).toBe('');
  });

  it('counts an emoji as one character and keeps lone surrogates whole', () => {
    expect(maskText('😀😀😀😀😀', { keepEnd: 1, minMasked: 1 })).toBe('****😀');
    expect(maskText('a\ud800bcd', { keepStart: 2, minMasked: 1 })).toBe('a\ud800***');
  });

  it('masks 1 MB in a blink', () => {
    const value = `${'x'.repeat(500_000)}😀${'y'.repeat(500_000)}`;
    const started = performance.now();
    const masked = maskText(value, { keepEnd: 4 });
    expect(performance.now() - started).toBeLessThan(1000);
    expect(masked.endsWith('*yyyy')).toBe(true);
  });

  it('refuses a value that is not a string and bad options, naming them', () => {
    expect(() => maskText(1234 as unknown as string)).toThrow(
      new TypeError('value must be a string, got number'),
    );
    expect(() => maskText('x', { keepEnd: -1 })).toThrow(/^options\.keepEnd must be an integer/);
    expect(() => maskText('x', { keepStart: 1.5 })).toThrow(/^options\.keepStart must/);
    expect(() => maskText('x', { minMasked: Number.NaN })).toThrow(/^options\.minMasked must/);
    expect(() => maskText('x', { char: '**' })).toThrow(/^options\.char must be one character/);
    expect(() => maskText('x', { char: '' })).toThrow(/^options\.char must/);
    expect(() => maskText('x', { keepLast: 4 } as never)).toThrow(
      /unknown option options\.keepLast/,
    );
    expect(() => maskText('x', null as never)).toThrow(/^options must be an object/);
  });
});

describe('maskCard, maskSsn, maskEmail, maskPhone, maskIban', () => {
  it('mask the usual forms', () => {
    expect(maskCard('4111 1111 1111 1234')).toBe('**** **** **** 1234');
    expect(maskCard('378282246310005')).toBe('**** **** **** 0005');
    expect(maskCard('12345678901')).toBe('**** **** **** ****');
    expect(maskSsn('123-45-6789')).toBe('***-**-6789');
    expect(maskSsn('12-345')).toBe('***-**-****');
    expect(maskEmail('jane.doe@example.com')).toBe('j***@example.com');
    expect(maskEmail('j@example.com')).toBe('***@example.com');
    expect(maskEmail('not an email')).toBe('***');
    expect(maskEmail('😀x@example.com')).toBe('😀***@example.com');
    expect(maskPhone('+44 20 7946 0958')).toBe('+** ** **** 0958');
    expect(maskPhone('555-0132')).toBe('***-*132');
    expect(maskPhone('12-34')).toBe('**-**');
    expect(maskPhone('call 555 0132')).toBe('**** *** *132');
    expect(maskIban('DE89 3704 0044 0532 0130 00')).toBe('DE** **** **** **** **30 00');
    expect(maskIban('hello')).toBe('****');
  });

  it('maskers holds each masker by name', () => {
    expect(maskers).toEqual({
      card: maskCard,
      ssn: maskSsn,
      email: maskEmail,
      phone: maskPhone,
      iban: maskIban,
    });
    expect(Object.isFrozen(maskers)).toBe(true);
  });

  it('refuse a value that is not a string with a TypeError naming it', () => {
    for (const mask of Object.values(maskers)) {
      expect(() => mask(undefined as unknown as string)).toThrow(
        new TypeError('value must be a string, got undefined'),
      );
      expect(() => mask(4111 as unknown as string)).toThrow(TypeError);
    }
  });

  /** The characters each masker may show, and how many of the input's digits at most. */
  const bounds: Record<MaskerName, { layout: string; maxDigits: number }> = {
    card: { layout: '* ', maxDigits: 4 },
    ssn: { layout: '*-', maxDigits: 4 },
    email: { layout: '*', maxDigits: Number.POSITIVE_INFINITY },
    phone: { layout: '* +-().', maxDigits: 4 },
    iban: { layout: '* ', maxDigits: 4 },
  };

  for (const [name, mask] of Object.entries(maskers) as [MaskerName, (v: string) => string][]) {
    it(`${name}: never throws, shows at most its digits, and masking twice shows nothing new (property)`, () => {
      const { layout, maxDigits } = bounds[name];
      fc.assert(
        fc.property(anyString, (value) => {
          const once = mask(value);
          const digitsShown = once.replace(/\D+/g, '');
          const inputDigits = value.replace(/\D+/g, '');
          if (name !== 'email') {
            expect(digitsShown.length).toBeLessThanOrEqual(maxDigits);
            expect(inputDigits.endsWith(digitsShown)).toBe(true);
          }
          const first = characterCounts(once, layout);
          for (const [point, count] of characterCounts(mask(once), layout)) {
            expect(count).toBeLessThanOrEqual(first.get(point) ?? 0);
          }
        }),
        { numRuns: 1500 },
      );
    });
  }

  it('email: shows at most the first character of the local part (property)', () => {
    fc.assert(
      fc.property(anyString, anyString, (local, domain) => {
        const masked = maskEmail(`${local}@${domain}`);
        const shownLocal = masked.slice(0, masked.indexOf('***'));
        expect(Array.from(shownLocal).length).toBeLessThanOrEqual(1);
      }),
      { numRuns: 1500 },
    );
  });

  it('mask 1 MB values', () => {
    const value = `${'4'.repeat(1_000_000)}\ud800`;
    for (const mask of Object.values(maskers)) expect(typeof mask(value)).toBe('string');
  });
});
