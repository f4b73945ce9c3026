import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { TextDetector, TextFinding } from '../text-detector.js';
import { defaultDetectors } from './default-detectors.js';
import { emailDetector } from './email-detector.js';
import { redactText } from './redact-text.js';

/** A detector reporting fixed findings, whatever the text. */
function fixed(...findings: TextFinding[]): TextDetector {
  return { name: 'fixed', find: () => findings };
}

describe('redactText', () => {
  it('replaces each finding with [REDACTED:<kind>] by default', () => {
    expect(redactText('card 4111 1111 1111 1111, mail ana@example.com', defaultDetectors)).toBe(
      'card [REDACTED:card], mail [REDACTED:email]',
    );
  });

  it('uses the replace function when given', () => {
    expect(redactText('mail ana@example.com', [emailDetector], (f) => `<${f.kind}>`)).toBe(
      'mail <email>',
    );
  });

  it('merges overlapping findings into one replacement, keeping the first kind', () => {
    const detector = fixed(
      { start: 2, end: 6, kind: 'a' },
      { start: 4, end: 9, kind: 'b' },
      { start: 9, end: 10, kind: 'c' },
    );
    expect(redactText('0123456789xyz', [detector])).toBe('01[REDACTED:a][REDACTED:c]xyz');
  });

  it('clips findings to the text and drops empty or malformed ones', () => {
    const detector = fixed(
      { start: -5, end: 2, kind: 'a' },
      { start: 3, end: 3, kind: 'empty' },
      { start: Number.NaN, end: 4, kind: 'nan' },
      { start: 8, end: 99, kind: 'b' },
    );
    expect(redactText('0123456789', [detector], (f) => f.kind)).toBe('a234567b');
  });

  it('returns the text itself when nothing is found', () => {
    expect(redactText('nothing here', defaultDetectors)).toBe('nothing here');
  });

  it('covers every character of every finding, whatever the findings (property)', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 40 }),
        fc.array(fc.tuple(fc.nat(45), fc.nat(45))),
        (text, pairs) => {
          const findings = pairs.map(([a, b]) => ({ start: a, end: b, kind: 'k' }));
          const redacted = redactText(text.replaceAll('#', '.'), [fixed(...findings)], (f) =>
            '#'.repeat(f.end - f.start),
          );
          expect(redacted).toHaveLength(text.length);
          for (const { start, end } of findings) {
            for (let index = start; index < Math.min(end, text.length); index += 1) {
              expect(redacted[index]).toBe('#');
            }
          }
        },
      ),
    );
  });

  it('refuses arguments of the wrong type with a TypeError naming them', () => {
    expect(() => redactText(42 as unknown as string, [])).toThrow(
      new TypeError('text must be a string, got number'),
    );
    expect(() => redactText('x', 'email' as unknown as TextDetector[])).toThrow(/^detectors must/);
    expect(() => redactText('x', [{} as TextDetector])).toThrow(/^detectors\[0\] must/);
    expect(() => redactText('x', [], 'y' as unknown as () => string)).toThrow(/^replace must/);
    expect(() =>
      redactText('a@example.com', [emailDetector], () => 1 as unknown as string),
    ).toThrow(/^replace must return a string/);
  });
});
