/**
 * zod helpers for values every order-like flow has: money, quantities, non-empty lists. (The UTC
 * date-time helper lives in the core and is re-exported by `flowproof/validation`.)
 */
import { z } from 'zod';
import { assertInteger, assertKnownKeys, assertOptionsObject } from '../core/options.js';

const INT32_MAX = 2_147_483_647;

/** Options of {@link money}. */
export interface MoneyOptions {
  /**
   * Smallest amount, in minor units. Pass a negative bound for refunds and adjustments.
   * @default 0
   */
  readonly min?: number;
  /**
   * Largest amount, in minor units.
   * @default Number.MAX_SAFE_INTEGER
   */
  readonly max?: number;
  /**
   * The ISO 4217 codes accepted, e.g. `['EUR', 'USD']`.
   * @default any three upper-case letters
   */
  readonly currencies?: readonly string[];
}

/** The fields of a {@link money} value. */
export type MoneyShape = {
  /** The amount in minor units (cents), an integer. */
  amount: z.ZodInt;
  /** The ISO 4217 currency code, e.g. `EUR`. */
  currency: z.ZodType<string, string>;
};

/** What {@link money} returns: a zod object schema for `{ amount, currency }`. */
export type MoneySchema = z.ZodObject<MoneyShape>;

/**
 * A zod schema for money as an integer amount of minor units (cents) and an ISO 4217 currency
 * code: `{ amount: 1999, currency: 'EUR' }`. Integers avoid binary floating-point rounding
 * (`0.1 + 0.2`), and the currency travels with the amount so two currencies are never added up.
 *
 * @throws TypeError when an option is invalid.
 * @example
 * ```ts
 * const Price = money({ currencies: ['EUR', 'USD'] });
 * Price.parse({ amount: 1999, currency: 'EUR' }); // ok
 * Price.parse({ amount: 19.99, currency: 'EUR' }); // throws: not an integer
 * ```
 */
export function money(options: MoneyOptions = {}): MoneySchema {
  assertOptionsObject(options, 'options');
  assertKnownKeys(options, ['min', 'max', 'currencies'], 'options');
  const min = options.min ?? 0;
  const max = options.max ?? Number.MAX_SAFE_INTEGER;
  assertInteger(min, 'options.min');
  assertInteger(max, 'options.max', min);
  const { currencies } = options;
  if (
    currencies !== undefined &&
    (!Array.isArray(currencies) ||
      currencies.length === 0 ||
      currencies.some((code) => typeof code !== 'string' || !/^[A-Z]{3}$/.test(code)))
  ) {
    throw new TypeError(
      'options.currencies must be a non-empty array of ISO 4217 codes (e.g. EUR)',
    );
  }
  const currency =
    currencies === undefined
      ? z
          .string()
          .regex(/^[A-Z]{3}$/, 'Expected an ISO 4217 currency code (three upper-case letters)')
      : z.enum(currencies as [string, ...string[]]);
  return z.object({
    amount: bounded(
      z.int({ error: 'Expected an integer amount in minor units (cents)' }),
      min,
      max,
    ),
    currency,
  });
}

/** Options of {@link positiveQuantity}. */
export interface PositiveQuantityOptions {
  /**
   * Largest quantity accepted. The default fits a 32-bit `INTEGER` column; lower it to what the
   * business allows (a cart line of 10,000 units is more likely a typo than an order).
   * @default 2147483647
   */
  readonly max?: number;
}

/**
 * A zod schema for a count of items: an integer of at least 1.
 *
 * @throws TypeError when an option is invalid.
 * @example
 * ```ts
 * const Line = z.object({ sku: z.string(), qty: positiveQuantity({ max: 1000 }) });
 * ```
 */
export function positiveQuantity(options: PositiveQuantityOptions = {}) {
  assertOptionsObject(options, 'options');
  assertKnownKeys(options, ['max'], 'options');
  const max = options.max ?? INT32_MAX;
  assertInteger(max, 'options.max', 1);
  return bounded(z.int({ error: 'Expected a whole number' }), 1, max);
}

/**
 * `integer` limited to `[min, max]`, each limit with its own message: without one, a check takes
 * the integer schema's own error ("Expected a whole number" for 11 > max). The safe-integer range
 * is the integer schema's own limit, so it is not checked twice.
 */
function bounded(integer: z.ZodInt, min: number, max: number): z.ZodInt {
  const from =
    min === Number.MIN_SAFE_INTEGER ? integer : integer.min(min, `Expected at least ${min}`);
  return max === Number.MAX_SAFE_INTEGER ? from : from.max(max, `Expected at most ${max}`);
}

/** Options of {@link nonEmptyArray}. */
export interface NonEmptyArrayOptions {
  /**
   * Most elements accepted; bounding lists bounds the work and memory one request can cause.
   * @default undefined (no limit)
   */
  readonly max?: number;
}

/**
 * What {@link nonEmptyArray} returns: a zod schema whose input and output are non-empty tuples of
 * the element's types.
 *
 * @typeParam T - the element schema.
 */
export type NonEmptyArraySchema<T extends z.ZodType> = z.ZodType<
  [z.output<T>, ...z.output<T>[]],
  [z.input<T>, ...z.input<T>[]]
>;

/**
 * A zod schema for an array with at least one element, typed as a non-empty tuple
 * (`[T, ...T[]]`), so `items[0]` needs no undefined check.
 *
 * @throws TypeError when `element` is not a zod schema or an option is invalid.
 * @example
 * ```ts
 * const Order = z.object({ items: nonEmptyArray(Line, { max: 100 }) });
 * ```
 */
export function nonEmptyArray<T extends z.ZodType>(
  element: T,
  options: NonEmptyArrayOptions = {},
): NonEmptyArraySchema<T> {
  if (!(element instanceof z.ZodType)) throw new TypeError('element must be a zod schema');
  assertOptionsObject(options, 'options');
  assertKnownKeys(options, ['max'], 'options');
  const schema = z.array(element).min(1, 'Expected at least one item');
  if (options.max !== undefined) assertInteger(options.max, 'options.max', 1);
  // zod types `.min(1)` as a plain array; the tuple type states what the check guarantees.
  return (options.max === undefined
    ? schema
    : schema.max(options.max)) as unknown as NonEmptyArraySchema<T>;
}
