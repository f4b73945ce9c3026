import { describe, expect, it } from 'vitest';
import { defaultDetectors } from './default-detectors.js';

/** 100 kB built from `unit` repeated, the shape that makes a backtracking pattern blow up. */
function repeated(unit: string, prefix = ''): string {
  return prefix + unit.repeat(Math.ceil((100_000 - prefix.length) / unit.length));
}

/** Inputs that each come close to a match again and again, then fail. */
const ADVERSARIAL: readonly (readonly [string, string])[] = [
  ['letters', repeated('a')],
  ['digits', repeated('1')],
  ['digits and spaces', repeated('1 ')],
  ['digits and dashes', repeated('1-')],
  ['digit pairs and dots', repeated('12.')],
  ['4-digit groups', repeated('4111 ')],
  ['at signs', repeated('a@')],
  ['labels', repeated('a.', 'x@')],
  ['long local part', repeated('a', 'b.')],
  ['plus signs', repeated('+1 ')],
  ['parentheses', repeated('(0) ')],
  ['trunk prefixes', repeated('0 ')],
  ['ssn groups', repeated('123-45-')],
  ['iban start', repeated('DE89 ')],
  ['iban body', repeated('A ', 'DE89')],
  ['bearer words', repeated('bearer ')],
  ['a long bearer token', repeated('a', 'Bearer ')],
  ['authorization labels', repeated('authorization: ')],
  ['jwt headers', repeated('eyJ')],
  ['jwt parts', repeated('eyJaaaaa.')],
  ['stripe prefixes', repeated('sk_live_')],
  ['api key labels', repeated('api_key=')],
  ['slack prefixes', repeated('xoxb-')],
  ['unicode', repeated('é😀\ud800')],
];

describe('detectors run in linear time', () => {
  for (const detector of defaultDetectors) {
    it(`${detector.name} finishes each 100 kB adversarial input in well under a second (500 ms)`, () => {
      for (const [label, input] of ADVERSARIAL) {
        const started = performance.now();
        const findings = [...detector.find(input)];
        const elapsedMs = performance.now() - started;
        expect({ label, slow: elapsedMs > 500 }).toEqual({ label, slow: false });
        for (const finding of findings) {
          expect(finding.start).toBeGreaterThanOrEqual(0);
          expect(finding.end).toBeLessThanOrEqual(input.length);
        }
      }
    });
  }

  it('each adversarial input is 100 kB', () => {
    for (const [, input] of ADVERSARIAL) expect(input.length).toBeGreaterThanOrEqual(100_000);
  });
});
