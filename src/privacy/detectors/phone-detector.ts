/**
 * Telephone numbers in free text.
 */
import type { TextDetector } from '../text-detector.js';
import { digitsOf, findMatches, outermostFindings } from './scan.js';

/*
 * International form: `+`, then digits in groups that each start with a separator or an area
 * code in parentheses (`+44 20 7946 0958`, `+1 (415) 555-0132`, `+49 (0)30 1234567`), or all
 * together (`+14155550132`). Every group starts with a character the previous group cannot hold,
 * so there is one way to split a number into groups and the bounded repetition cannot blow up.
 */
const INTERNATIONAL =
  /(?<![\w+])\+(?:\d{7,15}|\d{1,4}(?:[ .-]?\(\d{1,5}\)\d{0,8}|[ .-]\d{1,10}){1,7})(?![\w+]|[.-]\d)/g;

/*
 * National form, always with separators (a bare digit run is an id more often than a phone):
 * `(415) 555-0132`, `415-555-0132`, `415.555.0132`, `020 7946 0958`, `01 23 45 67 89`,
 * `030/1234567`. Which of these are phone numbers is decided in code (`isNationalNumber`).
 */
const NATIONAL =
  /(?<![\w+./-])(?:\(\d{2,5}\) ?|\d{2,5}[ ./-])\d{2,8}(?:[ .-]\d{2,4}){0,3}(?![\w/:+-]|[.,]\d)/g;

/** The fewest and the most digits of an international number (E.164 allows 15). */
const MIN_INTERNATIONAL_DIGITS = 8;
const MAX_INTERNATIONAL_DIGITS = 15;

/**
 * A national number is either a North American one (`(NXX) NXX-XXXX`: ten digits grouped 3-3-4,
 * area code and exchange not starting with 0 or 1, one separator style), or one with a trunk
 * prefix (`0…`, as dialled in most of Europe, Asia and Africa) of 10 or 11 digits. Dates, times,
 * versions, IP addresses and grouped ids do not fit either shape.
 */
function isNationalNumber(match: RegExpExecArray): boolean {
  const candidate = match[0];
  const digits = digitsOf(candidate);
  const nanp = /^(?:\([2-9]\d{2}\) ?|[2-9]\d{2}([-. ]))[2-9]\d{2}([-. ])\d{4}$/.exec(candidate);
  if (nanp !== null) return nanp[1] === undefined || nanp[1] === nanp[2];
  if (!/^\(?0[1-9]/.test(candidate) || digits.length < 10 || digits.length > 11) return false;
  // Dotted groups of at most three digits are an IP address more often than a number.
  return !/^[\d.]+$/.test(candidate) || /\d{4}/.test(candidate);
}

/**
 * Finds telephone numbers: international ones starting with `+` (8 to 15 digits, E.164), North
 * American ones grouped 3-3-4 (`(415) 555-0132`, `415-555-0132`), and national ones with a
 * trunk prefix `0` and separators (`020 7946 0958`, `01 23 45 67 89`). Digits written together
 * without a `+` are not taken for a phone number, nor are dates, times, version numbers, IP
 * addresses or card numbers. Kind: `phone`.
 *
 * @example
 * ```ts
 * redactText('call +44 20 7946 0958', [phoneDetector]); // 'call [REDACTED:phone]'
 * ```
 */
export const phoneDetector: TextDetector = Object.freeze({
  name: 'phone',
  find: (text: string) =>
    outermostFindings(
      findMatches(text, INTERNATIONAL, 'phone', (match) => {
        const count = digitsOf(match[0]).length;
        return count >= MIN_INTERNATIONAL_DIGITS && count <= MAX_INTERNATIONAL_DIGITS;
      }),
      // Not retried inside a refused candidate: a trunk-prefixed tail of a longer grouped
      // number (`GB58 DSKZ 2773 0507 8659 46`) would pass for a phone number.
      findMatches(text, NATIONAL, 'phone', isNationalNumber),
    ),
});
