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
      current += ms;
    },
    set(instant) {
      current = parseInstant(instant, 'instant').getTime();
    },
  };
}

/**
 * Formats an instant as UTC ISO-8601 with milliseconds and the `Z` offset designator,
 * e.g. `2026-11-24T13:46:44.000Z`. Every timestamp flowproof stores or emits has this shape.
 */
export function toUtcIso(instant: Date): string {
  return instant.toISOString();
}

/** ISO-8601 date-time with a mandatory `Z` or `±hh:mm` offset. */
const OFFSET_DATE_TIME =
  /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})$/i;

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
  if (Number.isNaN(parsed.getTime())) throw new TypeError(`${name} is not a valid date-time`);
  return parsed;
}
