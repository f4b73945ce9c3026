/**
 * Time is injected, never read from `Date.now()` deep inside the library, so tests can move it
 * and stores can substitute the database's clock for the host's.
 */
import { describeValue } from './errors.js';
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
 *
 * @throws TypeError when `instant` is not a `Date`, or is an invalid one (`new Date(NaN)`).
 * @example
 * ```ts
 * toUtcIso(new Date(Date.UTC(2026, 0, 1))); // '2026-01-01T00:00:00.000Z'
 * ```
 */
export function toUtcIso(instant: Date): string {
  if (!isDate(instant)) {
    throw new TypeError(`instant must be a Date, got ${describeValue(instant)}`);
  }
  const time = Date.prototype.getTime.call(instant);
  if (Number.isNaN(time)) throw new TypeError('instant is an invalid Date');
  return new Date(time).toISOString();
}

/** True for a real `Date` (any realm, not a look-alike), without calling into `value`'s traps. */
function isDate(value: unknown): value is Date {
  try {
    Date.prototype.getTime.call(value);
    return true;
  } catch {
    return false;
  }
}

/**
 * The one date-time syntax flowproof accepts: ISO-8601 / RFC 3339 with seconds, an optional
 * fraction of 1 to 9 digits, upper-case `T` and `Z`, and a `Z` or `±hh:mm` offset. Groups: the
 * written fields, then the offset's sign, hours and minutes.
 */
const OFFSET_DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?(?:Z|([+-])(\d{2}):(\d{2}))$/;
/** The same without the offset: a local date-time, which names no instant. */
const LOCAL_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?$/;

/** Why {@link readDateTime} refused a string. */
export type DateTimeProblem =
  /** Not a date-time in the accepted syntax. */
  | 'format'
  /** A date-time without an offset (`2026-01-01T10:00:00`): its instant depends on the host. */
  | 'no-offset'
  /** Well-formed, but the date, time or offset does not exist (February 30, 24:00, +25:00). */
  | 'no-such-date'
  /** Its UTC year falls outside 0000–9999, which the UTC form cannot write in four digits. */
  | 'year-range';

/** Sentences for each {@link DateTimeProblem}, shared by every parser of date-times. */
export const DATE_TIME_PROBLEMS: Readonly<Record<DateTimeProblem, string>> = Object.freeze({
  format:
    'is not an ISO-8601 date-time with seconds and an offset (e.g. 2026-01-01T00:00:00Z or 2026-01-01T01:00:00+01:00)',
  'no-offset': 'lacks an offset (Z or ±hh:mm), so its instant depends on the time zone',
  'no-such-date': 'names a date, time or offset that does not exist (e.g. February 30 or 24:00)',
  'year-range': 'falls outside the UTC years 0000 to 9999',
});

/**
 * Reads an ISO-8601 date-time with an offset: the instant it names, or why it names none. The one
 * rule behind {@link parseInstant}, {@link hasUtcOffset} and `utcDateTime()`.
 *
 * @internal
 */
export function readDateTime(value: string): Date | DateTimeProblem {
  const match = OFFSET_DATE_TIME.exec(value);
  if (!match) return LOCAL_DATE_TIME.test(value) ? 'no-offset' : 'format';
  const field = (index: number) => Number(match[index] ?? 0); // absent offset: 0
  const [year, month, day, hour, minute, second] = [1, 2, 3, 4, 5, 6].map(field) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (field(8) > 23 || field(9) > 59) return 'no-such-date';
  // `Date` rolls impossible fields over silently (February 30 becomes March 2, 24:00 the next
  // day), so the fields are rebuilt in UTC and must come back unchanged.
  const rebuilt = new Date(0);
  // setUTCFullYear, not Date.UTC: Date.UTC reads years 0-99 as 1900-1999.
  rebuilt.setUTCFullYear(year, month - 1, day);
  rebuilt.setUTCHours(hour, minute, second);
  if (
    rebuilt.getUTCFullYear() !== year ||
    rebuilt.getUTCMonth() !== month - 1 ||
    rebuilt.getUTCDate() !== day ||
    rebuilt.getUTCHours() !== hour ||
    rebuilt.getUTCMinutes() !== minute ||
    rebuilt.getUTCSeconds() !== second
  ) {
    return 'no-such-date';
  }
  const instant = new Date(value);
  const utcYear = instant.getUTCFullYear();
  return utcYear >= 0 && utcYear <= 9999 ? instant : 'year-range';
}

/**
 * True when `value` is an ISO-8601 date-time string that states its UTC offset, in the syntax
 * {@link parseInstant} accepts (seconds required, upper-case `T` and `Z`). It does not check that
 * the date exists: {@link parseInstant} does.
 */
export function hasUtcOffset(value: string): boolean {
  return typeof value === 'string' && OFFSET_DATE_TIME.test(value);
}

/**
 * Parses a `Date` or an ISO-8601 string with an explicit offset. Strings without an offset are
 * refused: their meaning depends on the host's time zone (the "timestamps without timezone"
 * pitfall). The string rule is `utcDateTime()`'s: seconds required, an optional fraction of 1 to 9
 * digits, upper-case `T` and `Z`, `Z` or `±hh:mm`, a date and time that exist, and a UTC year
 * between 0000 and 9999.
 *
 * @throws TypeError naming `name` when the value is not a valid instant.
 * @example
 * ```ts
 * parseInstant('2026-01-01T01:00:00+01:00').toISOString(); // '2026-01-01T00:00:00.000Z'
 * ```
 */
export function parseInstant(value: Date | string, name = 'value'): Date {
  if (typeof value === 'string') {
    const read = readDateTime(value);
    if (read instanceof Date) return read;
    throw new TypeError(`${name} ${DATE_TIME_PROBLEMS[read]}, got ${JSON.stringify(value)}`);
  }
  if (!isDate(value)) {
    throw new TypeError(
      `${name} must be a Date or an ISO-8601 date-time with an offset (e.g. 2026-01-01T00:00:00Z), got ${describeValue(value)}`,
    );
  }
  const time = Date.prototype.getTime.call(value);
  if (Number.isNaN(time)) throw new TypeError(`${name} is an invalid Date`);
  return new Date(time);
}
