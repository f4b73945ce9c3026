/**
 * zod helpers for the rules every boundary shares. Module-specific helpers (money, quantities…)
 * live with the module that owns them.
 */
import { z } from 'zod';

/**
 * A zod schema for an ISO-8601 date-time that must carry an offset (`Z` or `±hh:mm`). The parsed
 * value is normalised to UTC (`2026-01-01T12:00:00.000Z`), so stored timestamps always compare
 * correctly as strings.
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
    .transform((value) => new Date(value).toISOString());
}
