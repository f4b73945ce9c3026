/**
 * International bank account numbers (IBANs, ISO 13616) in free text.
 */
import type { TextDetector } from '../text-detector.js';
import { findMatches } from './scan.js';

/**
 * The length of an IBAN in each country that issues them (the ISO 13616 registry), letters and
 * digits counted, spaces not.
 */
const IBAN_LENGTHS: Readonly<Record<string, number>> = Object.freeze({
  AD: 24,
  AE: 23,
  AL: 28,
  AT: 20,
  AZ: 28,
  BA: 20,
  BE: 16,
  BG: 22,
  BH: 22,
  BI: 27,
  BR: 29,
  BY: 28,
  CH: 21,
  CR: 22,
  CY: 28,
  CZ: 24,
  DE: 22,
  DJ: 27,
  DK: 18,
  DO: 28,
  EE: 20,
  EG: 29,
  ES: 24,
  FI: 18,
  FK: 18,
  FO: 18,
  FR: 27,
  GB: 22,
  GE: 22,
  GI: 23,
  GL: 18,
  GR: 27,
  GT: 28,
  HN: 28,
  HR: 21,
  HU: 28,
  IE: 22,
  IL: 23,
  IQ: 23,
  IS: 26,
  IT: 27,
  JO: 30,
  KW: 30,
  KZ: 20,
  LB: 28,
  LC: 32,
  LI: 21,
  LT: 20,
  LU: 20,
  LV: 21,
  LY: 25,
  MC: 27,
  MD: 24,
  ME: 22,
  MK: 19,
  MN: 20,
  MR: 27,
  MT: 31,
  MU: 30,
  NI: 28,
  NL: 18,
  NO: 15,
  OM: 23,
  PK: 24,
  PL: 28,
  PS: 29,
  PT: 25,
  QA: 29,
  RO: 24,
  RS: 22,
  RU: 33,
  SA: 24,
  SC: 31,
  SD: 18,
  SE: 24,
  SI: 19,
  SK: 24,
  SM: 27,
  SO: 23,
  ST: 25,
  SV: 28,
  TL: 23,
  TN: 24,
  TR: 26,
  UA: 29,
  VA: 22,
  VG: 24,
  XK: 20,
  YE: 30,
});

/*
 * A country code, two check digits and 11 to 30 more letters or digits, each optionally preceded
 * by one space (IBANs are printed in groups of four). The repetition is bounded and nothing
 * follows it, so the scan is linear; the exact length is the country's and is checked in code.
 */
const IBAN_CANDIDATE = /(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}/g;

/**
 * True when `iban` (letters and digits only, upper case) has its country's length and passes the
 * ISO 7064 mod-97-10 check.
 *
 * @example
 * ```ts
 * ibanValid('DE89370400440532013000'); // true
 * ```
 */
export function ibanValid(iban: string): boolean {
  if (!/^[A-Z]{2}\d{2}[A-Z0-9]+$/.test(iban)) return false;
  if (IBAN_LENGTHS[iban.slice(0, 2)] !== iban.length) return false;
  const rearranged = iban.slice(4) + iban.slice(0, 4);
  let remainder = 0;
  for (const char of rearranged) {
    // Letters count as two digits: A = 10 … Z = 35.
    const value = Number.parseInt(char, 36);
    remainder = value > 9 ? (remainder * 100 + value) % 97 : (remainder * 10 + value) % 97;
  }
  return remainder === 1;
}

/**
 * The IBAN at the start of a candidate: exactly as many letters and digits as its country's IBAN
 * has, ending where a group ends (the next character is a space or ends the text's word).
 */
function ibanSpan(match: RegExpExecArray, text: string): [number, number][] {
  const length = IBAN_LENGTHS[match[0].slice(0, 2)];
  if (length === undefined) return [];
  let counted = 0;
  let end = match.index;
  for (const char of match[0]) {
    end += 1;
    if (char !== ' ') counted += 1;
    if (counted === length) break;
  }
  if (counted !== length || /[A-Za-z0-9]/.test(text[end] ?? '')) return [];
  const compact = text.slice(match.index, end).replaceAll(' ', '');
  return ibanValid(compact) ? [[match.index, end]] : [];
}

/**
 * Finds IBANs, printed with or without spaces (`DE89 3704 0044 0532 0130 00`): a country code
 * that issues IBANs, that country's length, and a valid mod-97 check. Upper case only, as banks
 * print them. Kind: `iban`.
 *
 * @example
 * ```ts
 * redactText('refund to DE89370400440532013000', [ibanDetector]); // 'refund to [REDACTED:iban]'
 * ```
 */
export const ibanDetector: TextDetector = Object.freeze({
  name: 'iban',
  find: (text: string) => findMatches(text, IBAN_CANDIDATE, 'iban', ibanSpan, 'retry-inside'),
});
