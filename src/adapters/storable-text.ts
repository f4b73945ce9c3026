/**
 * The check every store's input applies to text it is asked to keep, so each backend keeps it
 * alike.
 *
 * @internal
 */
import { describeValue } from '../core/errors.js';
import { unstorableText } from '../core/options.js';

/**
 * Throws unless `value` is a string every backend stores alike (no NUL, no lone surrogate), and
 * non-empty unless `allowEmpty`.
 *
 * @throws TypeError naming `name`.
 */
export function assertStorableText(
  value: unknown,
  name: string,
  allowEmpty = false,
): asserts value is string {
  if (typeof value !== 'string' || (!allowEmpty && value.length === 0)) {
    throw new TypeError(
      `${name} must be a${allowEmpty ? '' : ' non-empty'} string, got ${describeValue(value)}`,
    );
  }
  const problem = unstorableText(value);
  if (problem !== undefined) throw new TypeError(`${name} ${problem}`);
}
