import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { TextDetector } from '../text-detector.js';
import { apiKeyDetector } from './api-key-detector.js';
import { bearerTokenDetector } from './bearer-token-detector.js';
import { cardNumberDetector, luhnValid } from './card-number-detector.js';
import { defaultDetectors } from './default-detectors.js';
import { emailDetector } from './email-detector.js';
import { ibanDetector, ibanValid } from './iban-detector.js';
import { phoneDetector } from './phone-detector.js';
import { ssnDetector, ssnValid } from './ssn-detector.js';

/** The texts `detector` finds in `text`. */
function found(detector: TextDetector, text: string): string[] {
  return [...detector.find(text)].map((finding) => text.slice(finding.start, finding.end));
}

describe('emailDetector', () => {
  it('finds addresses in context and stops at the domain', () => {
    expect(found(emailDetector, 'to ana.lima+news@mail.example.com.')).toEqual([
      'ana.lima+news@mail.example.com',
    ]);
    expect(found(emailDetector, '<a@example.org>, b@example.co.uk')).toEqual([
      'a@example.org',
      'b@example.co.uk',
    ]);
  });

  it('ignores package specifiers, handles and hosts without a top-level domain', () => {
    for (const text of ['react@18.2.0', '@ana', 'root@localhost', 'a@b.c', 'x@127.0.0.1']) {
      expect(found(emailDetector, text)).toEqual([]);
    }
  });
});

describe('cardNumberDetector', () => {
  it('finds Luhn-valid numbers printed together, with spaces or with dashes', () => {
    expect(found(cardNumberDetector, 'card 4111111111111111 exp 12/25')).toEqual([
      '4111111111111111',
    ]);
    expect(found(cardNumberDetector, 'card 4111 1111 1111 1111 exp 12/25')).toEqual([
      '4111 1111 1111 1111',
    ]);
    expect(found(cardNumberDetector, 'amex 3782-822463-10005')).toEqual(['3782-822463-10005']);
    expect(found(cardNumberDetector, '4111111111111111 12/25')).toEqual(['4111111111111111']);
  });

  it('ignores a wrong check digit, an unknown prefix, longer grouped numbers and glued ids', () => {
    for (const text of [
      '4111 1111 1111 1112',
      '9111111111111111',
      '4111 1111 1111 1111 1111',
      'ORD-4111111111111111',
      '0.4111111111111111',
      '4111111111111111abc',
    ]) {
      expect(found(cardNumberDetector, text)).toEqual([]);
    }
  });

  it('luhnValid agrees with the check digit of known test numbers', () => {
    expect(luhnValid('4111111111111111')).toBe(true);
    expect(luhnValid('378282246310005')).toBe(true);
    expect(luhnValid('4111111111111112')).toBe(false);
    expect(luhnValid('41111x1111111111')).toBe(false);
  });

  it('changing any one digit of a valid number breaks the Luhn check (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 15 }), fc.integer({ min: 1, max: 9 }), (at, delta) => {
        const digits = [...'4111111111111111'];
        digits[at] = String((Number(digits[at]) + delta) % 10);
        expect(luhnValid(digits.join(''))).toBe(false);
      }),
    );
  });
});

describe('ibanDetector', () => {
  it('finds IBANs with or without spaces, ending where the country length ends', () => {
    expect(found(ibanDetector, 'IBAN DE89 3704 0044 0532 0130 00 BIC COBADEFF')).toEqual([
      'DE89 3704 0044 0532 0130 00',
    ]);
    expect(found(ibanDetector, 'to GB82WEST12345698765432.')).toEqual(['GB82WEST12345698765432']);
  });

  it('finds an IBAN right after another one, or after a refused candidate', () => {
    expect(found(ibanDetector, 'DE89370400440532013000 GB82WEST12345698765432')).toEqual([
      'DE89370400440532013000',
      'GB82WEST12345698765432',
    ]);
    expect(found(ibanDetector, 'ref AB12 DE89 3704 0044 0532 0130 00')).toEqual([
      'DE89 3704 0044 0532 0130 00',
    ]);
  });

  it('ignores wrong check digits, wrong lengths and countries without IBANs', () => {
    for (const text of [
      'DE88370400440532013000',
      'DE8937040044053201300',
      'DE893704004405320130001',
      'US89370400440532013000',
    ]) {
      expect(found(ibanDetector, text)).toEqual([]);
    }
    expect(ibanValid('DE89370400440532013000')).toBe(true);
    expect(ibanValid('de89370400440532013000')).toBe(false);
  });
});

describe('ssnDetector', () => {
  it('finds dashed and spaced SSNs, and bare nine digits only after an SSN keyword', () => {
    expect(found(ssnDetector, 'SSN 123-45-6789; alt 123 45 6789')).toEqual([
      '123-45-6789',
      '123 45 6789',
    ]);
    expect(found(ssnDetector, 'social security no. 123456789')).toEqual(['123456789']);
    expect(found(ssnDetector, 'order 123456789')).toEqual([]);
  });

  it('ignores numbers no SSN can have', () => {
    for (const ssn of ['000-12-3456', '666-12-3456', '912-34-5678', '123-00-4567', '123-45-0000']) {
      expect(ssnValid(ssn)).toBe(false);
      expect(found(ssnDetector, `SSN ${ssn}`)).toEqual([]);
    }
    expect(found(ssnDetector, '123-45 6789')).toEqual([]);
  });
});

describe('phoneDetector', () => {
  it('finds international, North American and trunk-prefixed national numbers', () => {
    expect(found(phoneDetector, 'call +44 20 7946 0958 or +1 (415) 555-0132')).toEqual([
      '+44 20 7946 0958',
      '+1 (415) 555-0132',
    ]);
    expect(found(phoneDetector, '(415) 555-0132, 415.555.0132, 020 7946 0958')).toEqual([
      '(415) 555-0132',
      '415.555.0132',
      '020 7946 0958',
    ]);
    expect(found(phoneDetector, '+49 (0)30 1234567')).toEqual(['+49 (0)30 1234567']);
  });

  it('ignores the tail of a longer grouped number, even when it starts with 0', () => {
    expect(found(phoneDetector, 'GB58 DSKZ 2773 0507 8659 46')).toEqual([]);
    expect(found(phoneDetector, 'account 2773 0507 8659 46')).toEqual([]);
  });

  it('ignores dates, times, versions, IP addresses, card numbers and mixed separators', () => {
    for (const text of [
      '2024-01-15 10:30:00',
      '15.01.2024',
      '01/15/2024',
      '1.2.3.4',
      '192.168.100.200',
      '4111 1111 1111 1111',
      '415-555.0132',
      '+1 555',
    ]) {
      expect(found(phoneDetector, text)).toEqual([]);
    }
  });
});

describe('bearerTokenDetector', () => {
  it('finds the credential after Bearer or an Authorization label, and JWTs anywhere', () => {
    expect(found(bearerTokenDetector, 'Authorization: Bearer abc123def456')).toEqual([
      'abc123def456',
    ]);
    expect(found(bearerTokenDetector, 'authorization: Basic dXNlcjpwYXNz')).toEqual([
      'dXNlcjpwYXNz',
    ]);
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJl';
    expect(found(bearerTokenDetector, `id_token=${jwt};`)).toEqual([jwt]);
  });

  it('ignores words after bearer or authorization', () => {
    for (const text of [
      'the bearer of this card',
      'Bearer authentication is required',
      'Authorization: Required',
      'token abc.def.ghi',
    ]) {
      expect(found(bearerTokenDetector, text)).toEqual([]);
    }
  });
});

describe('apiKeyDetector', () => {
  it('finds well-known key shapes and labelled values', () => {
    expect(found(apiKeyDetector, 'key sk_live_4eC39HqLyjWDarjtT1zdp7dc here')).toEqual([
      'sk_live_4eC39HqLyjWDarjtT1zdp7dc',
    ]);
    expect(found(apiKeyDetector, 'AKIAIOSFODNN7EXAMPLE')).toEqual(['AKIAIOSFODNN7EXAMPLE']);
    expect(found(apiKeyDetector, 'GET /v1?api_key=9f8e7d6c5b4a&x=1')).toEqual(['9f8e7d6c5b4a']);
  });

  it('ignores prefixes alone, short tails, lower-case AWS ids and placeholders', () => {
    for (const text of [
      'sk_live_',
      'sk_live_short',
      'akiaiosfodnn7example',
      'AKIAIOSFODNN7EXAMPLE1',
      'api_key=your_api_key_here',
    ]) {
      expect(found(apiKeyDetector, text)).toEqual([]);
    }
  });
});

describe('every detector', () => {
  it('defaultDetectors holds the seven shipped detectors, frozen', () => {
    expect(defaultDetectors.map((detector) => detector.name)).toEqual([
      'email',
      'card',
      'iban',
      'ssn',
      'phone',
      'bearer-token',
      'api-key',
    ]);
    expect(Object.isFrozen(defaultDetectors)).toBe(true);
  });

  it('never throws and reports spans inside the text, whatever the text (property)', () => {
    const pieces = fc.constantFrom(
      '4111 1111 1111 1111',
      'DE89 3704 0044 0532 0130 00',
      'a@example.com',
      '+44 20 7946 0958',
      '123-45-6789',
      'Bearer abc123def456',
      'sk_live_4eC39HqLyjWDarjtT1zdp7dc',
      ' ',
      '-',
      '.',
      '@',
      '\ud800',
      '😀',
    );
    const texts = fc.oneof(
      fc.string({ unit: 'binary' }),
      fc.array(pieces).map((p) => p.join('')),
    );
    fc.assert(
      fc.property(texts, (text) => {
        for (const detector of defaultDetectors) {
          for (const finding of detector.find(text)) {
            expect(finding.start).toBeGreaterThanOrEqual(0);
            expect(finding.end).toBeGreaterThan(finding.start);
            expect(finding.end).toBeLessThanOrEqual(text.length);
            expect(finding.kind).toBe(detector.name);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('finds nothing in a value that is not a string, instead of throwing', () => {
    for (const detector of defaultDetectors) {
      expect([...detector.find(undefined as unknown as string)]).toEqual([]);
      expect([...detector.find(42 as unknown as string)]).toEqual([]);
    }
  });
});
