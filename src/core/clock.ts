/**
 * Time is injected, never read from `Date.now()` deep inside the library, so tests can move it
 * and stores can substitute the database's clock for the host's.
 */
import { assertInteger } from './options.js';

/** A source of the current time. */
export interface Clock {
  /** The current instant. */
  now(): Date;
}

/** The host's clock. */
export const systemClock: Clock = Object.freeze({ now: () => new Date() });

/** A clock that only moves when told to; for tests and simulations. */
export interface ManualClock extends Clock {
  /** Moves the clock forward (or back, with a negative value) by `ms` milliseconds. */
  advance(ms: number): void;
  /** Sets the clock to `instant`. */
  set(instant: Date | string): void;
}

/**
 * Creates a {@link ManualClock} starting at `start`.
 *
 * @param start - the initial instant; an ISO-8601 string must carry an offset.
 * @throws TypeError when `start` is not a valid instant.
 * @example
 * ```ts
 * const clock = createManualClock('2026-01-01T00:00:00Z');
 * clock.advance(30_000);
 * toUtcIso(clock.now()); // '2026-01-01T00:00:30.000Z'
 * ```
 */
export function createManualClock(start: Date | string = new Date(0)): ManualClock {
  let current = parseInstant(start, 'start').getTime();
  return {
    now: () => new Date(current),
    advance(ms) {
      assertInteger(ms, 'ms');
      const next = current + ms;
      // Past this, now() would return an Invalid Date and the failure would surface far away
      // (a RangeError from toUtcIso). A refused move leaves the clock where it was.
      if (Math.abs(next) > MAX_DATE_MS) {
        throw new TypeError(
          `ms must keep the clock within the range a Date can hold (±${MAX_DATE_MS} ms around 1970-01-01), got ${ms} from ${toUtcIso(new Date(current))}`,
        );
      }
      current = next;
    },
    set(instant) {
      // parseInstant only returns valid Dates, which are always within range.
      current = parseInstant(instant, 'instant').getTime();
    },
  };
}

/** The largest distance from the epoch a `Date` can hold, in milliseconds (ECMA-262 §21.4.1.1). */
const MAX_DATE_MS = 8.64e15;

/**
 * Formats an instant as UTC ISO-8601 with milliseconds and the `Z` offset designator,
 * e.g. `2026-11-24T13:46:44.000Z`. Every timestamp flowproof stores or emits has this shape.
 */
export function toUtcIso(instant: Date): string {
  return instant.toISOString();
}

/** ISO-8601 date-time with a mandatory `Z` or `±hh:mm` offset; groups: the written fields. */
const OFFSET_DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-](\d{2}):(\d{2}))$/i;

/** True when `value` is an ISO-8601 date-time string that states its UTC offset. */
export function hasUtcOffset(value: string): boolean {
  return OFFSET_DATE_TIME.test(value);
}

/**
 * Parses a `Date` or an ISO-8601 string with an explicit offset. Strings without an offset are
 * refused: their meaning depends on the host's time zone (the "timestamps without timezone"
 * pitfall).
 *
 * @throws TypeError naming `name` when the value is not a valid instant.
 */
export function parseInstant(value: Date | string, name = 'value'): Date {
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new TypeError(`${name} is an invalid Date`);
    return new Date(value.getTime());
  }
  if (typeof value !== 'string' || !hasUtcOffset(value)) {
    throw new TypeError(
      `${name} must be a Date or an ISO-8601 date-time with an offset (e.g. 2026-01-01T00:00:00Z), got ${JSON.stringify(value)}`,
    );
  }
  const parsed = new Date(value);
  if (Number.isNaN(parsed.getTime()) || !namesARealInstant(value)) {
    throw new TypeError(
      `${name} is not a valid date-time (no such day, time or offset), got ${JSON.stringify(value)}`,
    );
  }
  return parsed;
}

/**
 * True when the fields written in `value` (already matched by `OFFSET_DATE_TIME`) exist as
 * written. `Date` rolls impossible fields over silently (February 30 becomes March 2, 24:00 the
 * next day), so the fields are rebuilt in UTC and must come back unchanged.
 */
function namesARealInstant(value: string): boolean {
  const match = OFFSET_DATE_TIME.exec(value);
  if (!match) return false;
  const field = (index: number) => Number(match[index] ?? 0); // absent seconds/offset: 0
  const [year, month, day, hour, minute, second] = [1, 2, 3, 4, 5, 6].map(field) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (field(7) > 23 || field(8) > 59) return false;
  const rebuilt = new Date(0);
  // setUTCFullYear, not Date.UTC: Date.UTC reads years 0-99 as 1900-1999.
  rebuilt.setUTCFullYear(year, month - 1, day);
  rebuilt.setUTCHours(hour, minute, second);
  return (
    rebuilt.getUTCFullYear() === year &&
    rebuilt.getUTCMonth() === month - 1 &&
    rebuilt.getUTCDate() === day &&
    rebuilt.getUTCHours() === hour &&
    rebuilt.getUTCMinutes() === minute &&
    rebuilt.getUTCSeconds() === second
  );
}
