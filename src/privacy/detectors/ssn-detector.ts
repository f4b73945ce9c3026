/**
 * US Social Security numbers in free text.
 */
import type { TextDetector } from '../text-detector.js';
import { findMatches } from './scan.js';

/*
 * Nine digits as `AAA-GG-SSSS` or `AAA GG SSSS` (one separator style), or together. Not touching
 * a word, another dash group or a decimal point. All quantifiers are fixed: the scan is linear.
 */
const SSN_CANDIDATE = /(?<![\w.-])(\d{3})([- ]?)(\d{2})\2(\d{4})(?![\w-]|\.\d)/g;

/**
 * A word naming an SSN shortly before bare digits: `SSN`, `SSN#`, `social security (number)`,
 * `soc. sec.`. Searched in the 40 characters before the digits.
 */
const SSN_KEYWORD = /\b(?:ssn|ssns|social[ -]security|soc\.? ?sec)\b/i;

/** How far before nine bare digits {@link SSN_KEYWORD} is looked for. */
const KEYWORD_WINDOW = 40;

/**
 * Whether area, group and serial can belong to an issued SSN: no area 000, 666 or 900–999, no
 * group 00, no serial 0000.
 *
 * @example
 * ```ts
 * ssnValid('123-45-6789'); // true
 * ssnValid('666-12-3456'); // false
 * ```
 */
export function ssnValid(ssn: string): boolean {
  const parts = /^(\d{3})([- ]?)(\d{2})\2(\d{4})$/.exec(ssn);
  if (parts === null) return false;
  const [, area = '', , group = '', serial = ''] = parts;
  return area !== '000' && area !== '666' && area[0] !== '9' && group !== '00' && serial !== '0000';
}

/**
 * Finds US Social Security numbers that follow the issuing rules (no area 000, 666 or 9xx, no
 * group 00, no serial 0000). Written
 * `123-45-6789` or `123 45 6789`, a number is always found; nine bare digits (`123456789`) only
 * when `SSN`, `social security` or `soc. sec.` appears in the 40 characters before them, since
 * most nine-digit numbers in logs are ids, amounts or phone numbers. Kind: `ssn`.
 *
 * @example
 * ```ts
 * redactText('SSN 123-45-6789 on file', [ssnDetector]); // 'SSN [REDACTED:ssn] on file'
 * ```
 */
export const ssnDetector: TextDetector = Object.freeze({
  name: 'ssn',
  find: (text: string) =>
    findMatches(
      text,
      SSN_CANDIDATE,
      'ssn',
      (match) => {
        if (!ssnValid(match[0])) return false;
        if (match[2] !== '') return true;
        const before = text.slice(Math.max(0, match.index - KEYWORD_WINDOW), match.index);
        return SSN_KEYWORD.test(before);
      },
      'retry-inside',
    ),
});
