/**
 * zod helpers for the rules every boundary shares. Module-specific helpers (money, quantities…)
 * live with the module that owns them.
 */
import { z } from 'zod';
import { DATE_TIME_PROBLEMS, readDateTime } from './clock.js';
import { assertZod4 } from './zod-version.js';

/**
 * A zod schema for an ISO-8601 date-time that must carry an offset (`Z` or `±hh:mm`). The parsed
 * value is normalised to UTC (`2026-01-01T12:00:00.000Z`), so stored timestamps always compare
 * correctly as strings.
 *
 * It accepts exactly the strings `parseInstant()` accepts: seconds required, an optional fraction
 * of 1 to 9 digits, upper-case `T` and `Z`, a date and time that exist (no February 30, no 24:00,
 * no leap second `23:59:60`), and a UTC year between 0000 and 9999 (a later one would need an
 * expanded year, `+010000-…`, which neither sorts as text nor parses again). The issue message
 * says which rule a value broke: no offset, a date that does not exist, or not a date-time at all.
 *
 * Needs zod 4, the zod flowproof declares as its peer dependency.
 *
 * @throws TypeError when the `zod` installed next to flowproof is not zod 4.
 * @example
 * ```ts
 * const Event = z.object({ occurredAt: utcDateTime() });
 * Event.parse({ occurredAt: '2026-01-01T14:00:00+02:00' }); // { occurredAt: '2026-01-01T12:00:00.000Z' }
 * Event.parse({ occurredAt: '2026-01-01T14:00:00' });        // throws: no offset
 * Event.parse({ occurredAt: '2026-02-30T10:00:00Z' });       // throws: no such date
 * ```
 */
export function utcDateTime() {
  assertZod4(z, 'utcDateTime()');
  const schema = z
    .string({ error: `Expected a string: an ISO-8601 date-time with an offset` })
    .meta({ format: 'date-time' })
    .transform((value, context) => {
      const read = readDateTime(value);
      if (read instanceof Date) return read.toISOString();
      context.issues.push({
        code: 'custom',
        input: value,
        message: `The date-time ${DATE_TIME_PROBLEMS[read]}`,
      });
      return z.NEVER;
    });
  return guardAgainstZod3Parent(schema, 'utcDateTime()');
}

/**
 * A zod 3 schema that embeds a zod 4 one (`z3.object({ at: utcDateTime() })`) calls its `_parse`,
 * which zod 4 schemas do not have, and fails with `…_parse is not a function`. This gives the
 * schema a `_parse` that says what is wrong instead. zod 4 never calls it.
 *
 * @internal
 */
export function guardAgainstZod3Parent<S extends object>(schema: S, what: string): S {
  Object.defineProperty(schema, '_parse', {
    value: () => {
      throw new TypeError(
        `${what} is a zod 4 schema and was used inside a zod 3 schema; flowproof needs zod 4 (its peer dependency): install zod@^4 in the application, or import from 'zod/v4' with zod 3.25`,
      );
    },
  });
  return schema;
}
