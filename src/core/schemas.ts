/**
 * zod helpers for the rules every boundary shares. Module-specific helpers (money, quantities…)
 * live with the module that owns them.
 */
import { z } from 'zod';

/**
 * A zod schema for an ISO-8601 date-time that must carry an offset (`Z` or `±hh:mm`). The parsed
 * value is normalised to UTC (`2026-01-01T12:00:00.000Z`), so stored timestamps always compare
 * correctly as strings. An instant whose UTC year falls outside 0000–9999 is refused: its UTC form
 * would need an expanded year (`+010000-…`), which neither sorts as text nor parses again here.
 * Leap seconds (`23:59:60`) and lower-case `t`/`z` are refused too.
 *
 * @example
 * ```ts
 * const Event = z.object({ occurredAt: utcDateTime() });
 * Event.parse({ occurredAt: '2026-01-01T14:00:00+02:00' }); // { occurredAt: '2026-01-01T12:00:00.000Z' }
 * Event.parse({ occurredAt: '2026-01-01T14:00:00' });        // throws: no offset
 * ```
 */
export function utcDateTime() {
  return z.iso
    .datetime({
      offset: true,
      error: 'Expected an ISO-8601 date-time with an offset (Z or ±hh:mm)',
    })
    .transform((value, context) => {
      const instant = new Date(value);
      const year = instant.getUTCFullYear();
      if (year >= 0 && year <= 9999) return instant.toISOString();
      context.issues.push({
        code: 'custom',
        input: value,
        message: 'Expected a date-time whose UTC year is between 0000 and 9999',
      });
      return z.NEVER;
    });
}
