/**
 * Payment card numbers (PANs) in free text.
 */
import type { TextDetector } from '../text-detector.js';
import { type DigitGroup, digitGroups, findMatches } from './scan.js';

/*
 * A run of digits, each optionally followed by one space or dash; which part of it is a card is
 * decided in code (`cardSpans`). It may not start against a word character or a decimal point
 * (an order id `ORD-4111…`, an amount `0.4111…`). Without anything after the repetition, the
 * engine never backtracks into it: the scan is linear.
 */
const DIGIT_RUN = /(?<![\w.,+-])\d(?:[ -]?\d)*/g;

/** The fewest and the most digits of a card number. */
const MIN_CARD_DIGITS = 13;
const MAX_CARD_DIGITS = 19;

/**
 * True when `digits` passes the Luhn check (ISO/IEC 7812), which every issued card number does.
 *
 * @example
 * ```ts
 * luhnValid('4111111111111111'); // true
 * ```
 */
export function luhnValid(digits: string): boolean {
  if (!/^\d+$/.test(digits)) return false;
  let sum = 0;
  let double = false;
  for (let index = digits.length - 1; index >= 0; index -= 1) {
    let digit = digits.charCodeAt(index) - 48;
    if (double) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
    double = !double;
  }
  return sum % 10 === 0;
}

/**
 * Whether the number's first digits belong to a card network: Visa (4), Mastercard (51–55,
 * 2221–2720), American Express (34, 37), Discover (6011, 644–649, 65), JCB (3528–3589), Diners
 * Club (300–305, 36, 38, 39), UnionPay (62, 81), Maestro (50, 56–69). Numbers starting with 0, 1,
 * 7 or 9 are not payment cards.
 */
function hasCardPrefix(digits: string): boolean {
  const two = Number(digits.slice(0, 2));
  const four = Number(digits.slice(0, 4));
  switch (digits[0]) {
    case '2':
      return four >= 2221 && four <= 2720;
    case '3':
      return (
        two === 34 ||
        two === 37 ||
        two === 36 ||
        two === 38 ||
        two === 39 ||
        (four >= 3000 && four <= 3059) ||
        (four >= 3528 && four <= 3589)
      );
    case '4':
      return true;
    case '5':
      return two >= 50 && two <= 59;
    case '6':
      return true;
    case '8':
      return two === 81;
    default:
      return false;
  }
}

/**
 * The card numbers inside one digit run: windows of consecutive groups holding 13 to 19 digits,
 * printed like a card (all separators the same, a first group of four digits and the others of
 * three to six: 4-4-4-4, 4-6-5, 4-6-4, 4-4-4-4-3), with a network's prefix and a valid Luhn
 * digit. A grouped window may not continue with one more group in the same style (it would be
 * part of a longer grouped number), and the run may not be glued to a word (`…1111abc`).
 */
function cardSpans(match: RegExpExecArray, text: string): [number, number][] {
  const groups = digitGroups(match[0], match.index);
  const runEnd = match.index + match[0].length;
  const gluedAtEnd = /^(?:\w|[.,]\d)/.test(text.slice(runEnd, runEnd + 2));
  const spans: [number, number][] = [];
  let first = 0;
  while (first < groups.length) {
    const found = longestCardFrom(groups, first, text, gluedAtEnd);
    if (found === undefined) {
      first += 1;
      continue;
    }
    spans.push([groups[first]?.start ?? 0, groups[found]?.end ?? 0]);
    first = found + 1;
  }
  return spans;
}

/** The last group of the longest card starting at group `first`, if any. */
function longestCardFrom(
  groups: readonly DigitGroup[],
  first: number,
  text: string,
  gluedAtEnd: boolean,
): number | undefined {
  let digitCount = 0;
  let found: number | undefined;
  for (let last = first; last < groups.length; last += 1) {
    const group = groups[last] as DigitGroup;
    digitCount += group.end - group.start;
    if (digitCount > MAX_CARD_DIGITS) break;
    if (digitCount < MIN_CARD_DIGITS) continue;
    if (last === groups.length - 1 && gluedAtEnd) break;
    if (!isPrintedLikeCard(groups, first, last)) continue;
    const digits = text.slice(groups[first]?.start, group.end).replace(/[ -]/g, '');
    if (hasCardPrefix(digits) && luhnValid(digits)) found = last;
  }
  return found;
}

/** Whether groups `first..last` are grouped like a printed card (see {@link cardSpans}). */
function isPrintedLikeCard(groups: readonly DigitGroup[], first: number, last: number): boolean {
  if (first === last) return true;
  const head = groups[first] as DigitGroup;
  if (head.end - head.start !== 4) return false;
  const separator = groups[first + 1]?.separator;
  for (let index = first + 1; index <= last; index += 1) {
    const group = groups[index] as DigitGroup;
    const length = group.end - group.start;
    if (group.separator !== separator || length < 3 || length > 6) return false;
  }
  // One more group in the same style before or after: a longer grouped number, not a card.
  return groups[first]?.separator !== separator && groups[last + 1]?.separator !== separator;
}

/**
 * Finds payment card numbers: 13 to 19 digits, written together or in groups separated by
 * spaces or dashes, Luhn-valid, starting with a known network's prefix. Kind: `card`.
 *
 * @example
 * ```ts
 * redactText('paid with 4111 1111 1111 1111', [cardNumberDetector]); // 'paid with [REDACTED:card]'
 * ```
 */
export const cardNumberDetector: TextDetector = Object.freeze({
  name: 'card',
  find: (text: string) => findMatches(text, DIGIT_RUN, 'card', cardSpans),
});
