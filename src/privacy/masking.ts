/**
 * Masking: showing a little of a personal value (the last digits of a card, the first letter of
 * an email) so a person can recognise it, and hiding the rest. Every masker takes any string,
 * never throws for one, and never shows more than it says it does; a value too short to hide
 * enough of is masked whole.
 */
import { describeValue } from '../core/errors.js';
import { assertInteger, readObject } from '../core/options.js';

/** Options of {@link maskText}. */
export interface MaskTextOptions {
  /**
   * How many characters (code points) to show at the start.
   * @default 0
   */
  readonly keepStart?: number;
  /**
   * How many characters (code points) to show at the end.
   * @default 0
   */
  readonly keepEnd?: number;
  /**
   * The character shown in place of each hidden one: exactly one code point.
   * @default '*'
   */
  readonly char?: string;
  /**
   * The fewest characters that must stay hidden. When showing `keepStart` and `keepEnd`
   * characters would hide fewer, nothing is shown.
   * @default keepStart + keepEnd (at least half of the value stays hidden)
   */
  readonly minMasked?: number;
}

const MASK_TEXT_OPTIONS = ['keepStart', 'keepEnd', 'char', 'minMasked'];

/** Any surrogate: a text without one has one code point per UTF-16 unit. */
const SURROGATE = /[\ud800-\udfff]/;

/**
 * `value` with every character hidden but the first `keepStart` and the last `keepEnd`, each
 * hidden character (code point: an emoji counts as one) replaced by `char`. If fewer than
 * `minMasked` characters would stay hidden, every character is hidden. The result has as many
 * code points as `value`.
 *
 * @throws TypeError when `value` is not a string, or an option is not what it should be (the
 * message names it).
 *
 * @example
 * ```ts
 * maskText('4111111111111111', { keepEnd: 4 }); // '************1111'
 * maskText('ab', { keepEnd: 4 });               // '**'
 * maskText('Ana Lima', { keepStart: 1, char: '•' }); // 'A•••••••'
 * ```
 */
export function maskText(value: string, options: MaskTextOptions = {}): string {
  assertString(value, 'value');
  options = readObject(
    options,
    'options',
    MASK_TEXT_OPTIONS.join(' '),
  ) as unknown as typeof options;
  const { keepStart = 0, keepEnd = 0, char = '*' } = options;
  assertInteger(keepStart, 'options.keepStart', 0);
  assertInteger(keepEnd, 'options.keepEnd', 0);
  const minMasked = options.minMasked ?? keepStart + keepEnd;
  assertInteger(minMasked, 'options.minMasked', 0);
  if (typeof char !== 'string' || [...char].length !== 1) {
    throw new TypeError(`options.char must be one character, got ${describeValue(char)}`);
  }
  return maskCodePoints(value, keepStart, keepEnd, minMasked, char);
}

/** {@link maskText} after its options are checked. */
function maskCodePoints(
  value: string,
  keepStart: number,
  keepEnd: number,
  minMasked: number,
  char: string,
): string {
  if (!SURROGATE.test(value)) {
    const hidden = value.length - keepStart - keepEnd;
    if (hidden < 0 || hidden < minMasked) return char.repeat(value.length);
    return value.slice(0, keepStart) + char.repeat(hidden) + value.slice(value.length - keepEnd);
  }
  // Array.from splits by code point, keeping a lone surrogate as one character.
  const points = Array.from(value);
  const hidden = points.length - keepStart - keepEnd;
  if (hidden < 0 || hidden < minMasked) return char.repeat(points.length);
  return (
    points.slice(0, keepStart).join('') +
    char.repeat(hidden) +
    points.slice(points.length - keepEnd).join('')
  );
}

/**
 * A card number masked to `**** **** **** 1234`: the last four digits are shown when the value
 * holds at least 12 digits (so at least 8 stay hidden), otherwise `**** **** **** ****`. The
 * shape is the same for every value, so the mask does not tell the number's length or brand.
 *
 * @throws TypeError when `value` is not a string.
 *
 * @example
 * ```ts
 * maskCard('4111-1111-1111-1234'); // '**** **** **** 1234'
 * maskCard('1234');                // '**** **** **** ****'
 * ```
 */
export function maskCard(value: string): string {
  assertString(value, 'value');
  const digits = value.replace(/\D+/g, '');
  return `**** **** **** ${digits.length >= 12 ? digits.slice(-4) : '****'}`;
}

/**
 * A US Social Security number masked to `***-**-6789`: the last four digits are shown when the
 * value holds exactly nine digits, otherwise `***-**-****`.
 *
 * @throws TypeError when `value` is not a string.
 *
 * @example
 * ```ts
 * maskSsn('123-45-6789'); // '***-**-6789'
 * ```
 */
export function maskSsn(value: string): string {
  assertString(value, 'value');
  const digits = value.replace(/\D+/g, '');
  return `***-**-${digits.length === 9 ? digits.slice(-4) : '****'}`;
}

/**
 * An email address masked to `j***@example.com`: the domain (after the last `@`) is shown, and
 * of the local part only its first character, and only when it has at least two; the number of
 * stars is always three. A value without a local part and a domain is `***`.
 *
 * @throws TypeError when `value` is not a string.
 *
 * @example
 * ```ts
 * maskEmail('jane.doe@example.com'); // 'j***@example.com'
 * maskEmail('j@example.com');        // '***@example.com'
 * ```
 */
export function maskEmail(value: string): string {
  assertString(value, 'value');
  const at = value.lastIndexOf('@');
  if (at <= 0 || at === value.length - 1) return '***';
  const local = Array.from(value.slice(0, at));
  const shown = local.length >= 2 ? (local[0] ?? '') : '';
  return `${shown}***${value.slice(at)}`;
}

/** Characters of a phone number's layout, shown as they are. */
const PHONE_LAYOUT = new Set([' ', '+', '-', '(', ')', '.']);

/**
 * A phone number with its digits hidden but the last few: four when it has at least 10 digits,
 * three from 7, two from 5, none below. Its layout (`+`, spaces, dashes, dots, parentheses) is
 * kept; any other character is hidden.
 *
 * @throws TypeError when `value` is not a string.
 *
 * @example
 * ```ts
 * maskPhone('+44 20 7946 0958'); // '+** ** **** 0958'
 * maskPhone('555-0132');         // '***-*132'
 * ```
 */
export function maskPhone(value: string): string {
  assertString(value, 'value');
  const digitCount = value.replace(/\D+/g, '').length;
  const shownDigits = digitCount >= 10 ? 4 : digitCount >= 7 ? 3 : digitCount >= 5 ? 2 : 0;
  const points = Array.from(value);
  let digitsSeen = 0;
  for (let index = points.length - 1; index >= 0; index -= 1) {
    const point = points[index] as string;
    if (point >= '0' && point <= '9' && point.length === 1) {
      digitsSeen += 1;
      if (digitsSeen > shownDigits) points[index] = '*';
    } else if (!PHONE_LAYOUT.has(point)) {
      points[index] = '*';
    }
  }
  return points.join('');
}

/**
 * An IBAN masked to its country code and last four characters, printed in groups of four
 * (`DE** **** **** **** **30 00`). A value that is not shaped like an IBAN (two letters, two
 * digits, 11 to 30 letters or digits; spaces ignored) is `****`.
 *
 * @throws TypeError when `value` is not a string.
 *
 * @example
 * ```ts
 * maskIban('DE89 3704 0044 0532 0130 00'); // 'DE** **** **** **** **30 00'
 * ```
 */
export function maskIban(value: string): string {
  assertString(value, 'value');
  const compact = value.replace(/\s+/g, '');
  if (!/^[A-Za-z]{2}\d{2}[A-Za-z0-9]{11,30}$/.test(compact)) return '****';
  const masked = compact.slice(0, 2) + '*'.repeat(compact.length - 6) + compact.slice(-4);
  return masked.replace(/(.{4})(?=.)/g, '$1 ');
}

/** The name of each built-in masker in {@link maskers}. */
export type MaskerName = 'card' | 'ssn' | 'email' | 'phone' | 'iban';

/**
 * The built-in maskers by name, for configuration that names them (`{ mask: 'card' }`).
 *
 * @example
 * ```ts
 * maskers.email('jane.doe@example.com'); // 'j***@example.com'
 * ```
 */
export const maskers: Readonly<Record<MaskerName, (value: string) => string>> = Object.freeze({
  card: maskCard,
  ssn: maskSsn,
  email: maskEmail,
  phone: maskPhone,
  iban: maskIban,
});

/** Throws a `TypeError` naming `name` unless `value` is a string. */
function assertString(value: unknown, name: string): asserts value is string {
  if (typeof value !== 'string') {
    throw new TypeError(`${name} must be a string, got ${describeValue(value)}`);
  }
}
