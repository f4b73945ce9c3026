/**
 * Calendar-aware retention durations ("90 days", "P1Y6M", "2 years after resolution") and the UTC
 * arithmetic retention needs: adding a duration and finding the cutoff for a sweep.
 */
import { describeValue } from '../core/errors.js';

/** A calendar-aware length of time. */
export interface RetentionDuration {
  /** Whole years. */
  readonly years: number;
  /** Whole months (calendar months). */
  readonly months: number;
  /** Whole days (24 hours in UTC). */
  readonly days: number;
  /** Hours. */
  readonly hours: number;
  /** Minutes. */
  readonly minutes: number;
  /** Seconds. */
  readonly seconds: number;
  /** As written ("90 days", "P90D"). */
  readonly text: string;
}

/** 'indefinite' = never. */
export type RetentionPeriod = RetentionDuration | 'indefinite';

/** A parsed duration plus the words that followed it ("after resolution" → "resolution"). */
export interface ParsedRetentionText {
  readonly duration: RetentionDuration;
  readonly anchor?: string;
}

/** Longer than this is a typo, not a policy: 1000 years. */
const MAX_YEARS = 1000;
const DAY_MS = 86_400_000;

const ISO =
  /^P(?!$)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/i;
const UNITS: Record<string, keyof Omit<RetentionDuration, 'text'> | 'weeks'> = {
  year: 'years',
  month: 'months',
  week: 'weeks',
  day: 'days',
  hour: 'hours',
  minute: 'minutes',
  second: 'seconds',
};
const PART = /^(\d+)\s*(year|month|week|day|hour|minute|second)s?\b\s*/i;

function build(
  parts: Readonly<Record<string, number | undefined>>,
  text: string,
  name: string,
): RetentionDuration {
  const days = (parts.days ?? 0) + (parts.weeks ?? 0) * 7;
  const duration = {
    years: parts.years ?? 0,
    months: parts.months ?? 0,
    days,
    hours: parts.hours ?? 0,
    minutes: parts.minutes ?? 0,
    seconds: parts.seconds ?? 0,
    text,
  };
  const approxYears =
    duration.years +
    duration.months / 12 +
    (duration.days + duration.hours / 24 + duration.minutes / 1440 + duration.seconds / 86_400) /
      365;
  if (!(approxYears <= MAX_YEARS)) {
    throw new TypeError(`${name} must be at most ${MAX_YEARS} years, got "${text}"`);
  }
  return Object.freeze(duration);
}

function expected(name: string, text: string): TypeError {
  return new TypeError(
    `${name} must be an ISO 8601 duration (P90D, P1Y6M, PT12H, P2W) or "<n> <unit>" with units year(s), month(s), week(s), day(s), hour(s), minute(s), second(s) ("90 days", "1 year 6 months"), got "${text}"`,
  );
}

/**
 * Parses a duration and the qualifier after it. `"2 years after resolution"` gives the anchor
 * `"resolution"`, `"3 years no login"` gives `"no login"`. ISO 8601 takes no qualifier.
 *
 * @throws TypeError naming `name` on anything else.
 */
export function parseRetentionText(text: string, name = 'duration'): ParsedRetentionText {
  if (typeof text !== 'string') {
    throw new TypeError(`${name} must be a string, got ${describeValue(text)}`);
  }
  const trimmed = text.trim();
  if (trimmed.length === 0 || trimmed.length > 200) throw expected(name, text.slice(0, 200));
  const iso = ISO.exec(trimmed);
  if (iso) {
    const [, y, mo, w, d, h, mi, s] = iso.map((group) => (group === undefined ? 0 : Number(group)));
    return {
      duration: build(
        { years: y, months: mo, weeks: w, days: d, hours: h, minutes: mi, seconds: s },
        text,
        name,
      ),
    };
  }
  const parts: Record<string, number> = {};
  let rest = trimmed;
  let matched = false;
  for (;;) {
    const part = PART.exec(rest);
    if (!part) break;
    const unit = UNITS[(part[2] as string).toLowerCase()] as string;
    if (parts[unit] !== undefined) throw expected(name, text);
    parts[unit] = Number(part[1]);
    matched = true;
    rest = rest.slice(part[0].length);
  }
  if (!matched) throw expected(name, text);
  const duration = build(parts, text, name);
  if (rest.length === 0) return { duration };
  const anchor = rest.replace(/^after\s+/i, '').trim();
  if (anchor.length === 0 || !/^[\p{L}\p{N}][\p{L}\p{N} _'-]*$/u.test(anchor)) {
    throw expected(name, text);
  }
  return { duration, anchor };
}

/**
 * Parses a retention duration: ISO 8601 (`P1Y2M10DT2H30M`, `P2W`; whole numbers only, no
 * negatives) or English (`"90 days"`, `"1 year 6 months"`; units case-insensitive, singular or
 * plural), optionally followed by an anchor qualifier (`"2 years after resolution"`), which the
 * returned duration ignores. `"0 days"` is legal (at once).
 *
 * @param name - the argument's name in error messages. @default 'duration'
 * @throws TypeError naming `name` when the text is not a duration or exceeds 1000 years.
 * @example
 * ```ts
 * parseRetentionDuration('1 year 6 months'); // { years: 1, months: 6, ..., text: '1 year 6 months' }
 * parseRetentionDuration('P90D').days; // 90
 * ```
 */
export function parseRetentionDuration(text: string, name = 'duration'): RetentionDuration {
  return parseRetentionText(text, name).duration;
}

/** True when `value` is a {@link RetentionDuration} (non-negative integer fields and a text). */
export function isRetentionDuration(value: unknown): value is RetentionDuration {
  try {
    if (typeof value !== 'object' || value === null) return false;
    const record = value as Record<string, unknown>;
    if (typeof record.text !== 'string') return false;
    for (const field of ['years', 'months', 'days', 'hours', 'minutes', 'seconds']) {
      const n = record[field];
      if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) return false;
    }
    return true;
  } catch {
    return false;
  }
}

function toMs(at: Date | number, name: string): number {
  let ms: unknown;
  try {
    ms = at instanceof Date ? at.getTime() : at;
  } catch (cause) {
    throw new TypeError(`${name} cannot be read`, { cause });
  }
  // Within the Date range with room for 1000 years either way, so arithmetic never leaves it.
  if (typeof ms !== 'number' || !Number.isFinite(ms) || Math.abs(ms) > 8.6e15) {
    throw new TypeError(
      `${name} must be a valid Date or epoch milliseconds, got ${describeValue(at)}`,
    );
  }
  return ms;
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
}

function addMs(ms: number, d: RetentionDuration): number {
  const date = new Date(ms);
  const totalMonths = date.getUTCMonth() + d.years * 12 + d.months;
  const year = date.getUTCFullYear() + Math.floor(totalMonths / 12);
  const month = ((totalMonths % 12) + 12) % 12;
  const timeOfDay = ms - Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate());
  // A day the final month lacks (Jan 31 + 1 month): the period ends with that month's last day,
  // at midnight after it, as EU law counts periods in months. Keeping the time of day on the
  // last day instead would let Jan 30 23:00 end after Jan 31 01:00, and a cutoff could not be
  // one instant: due records would not be a prefix of time.
  const shifted =
    date.getUTCDate() > daysInMonth(year, month)
      ? Date.UTC(year, month + 1, 1)
      : Date.UTC(year, month, date.getUTCDate()) + timeOfDay;
  return shifted + d.days * DAY_MS + ((d.hours * 60 + d.minutes) * 60 + d.seconds) * 1000;
}

/**
 * Adds `duration` to `at` in UTC: years and months first, then days, then time. When the final
 * month lacks the day (Jan 31 + 1 month), the period ends with that month's last day: at
 * midnight after it (1 March 00:00 UTC). Later times never end earlier: due records are always
 * the ones up to one instant ({@link retentionCutoff}).
 *
 * @throws TypeError when `at` is not a valid date or the result is out of the Date range.
 */
export function addRetentionDuration(at: Date | number, duration: RetentionDuration): Date {
  const ms = toMs(at, 'at');
  if (!isRetentionDuration(duration)) {
    throw new TypeError(`duration must be a RetentionDuration, got ${describeValue(duration)}`);
  }
  const result = new Date(addMs(ms, duration));
  if (Number.isNaN(result.getTime())) throw new TypeError('at + duration is out of the Date range');
  return result;
}

/**
 * The latest record time t with `addRetentionDuration(t, duration) <= now`: every record at or
 * before it is due, none after it is (several times end at one instant: Jan 29–31 + 1 month all
 * end at 1 March 00:00 in 2025).
 * A record is due iff its time <= the cutoff.
 *
 * @throws TypeError when `now` is not a valid date or `duration` not a duration.
 */
export function retentionCutoff(now: Date | number, duration: RetentionDuration): Date {
  const nowMs = toMs(now, 'now');
  if (!isRetentionDuration(duration)) {
    throw new TypeError(`duration must be a RetentionDuration, got ${describeValue(duration)}`);
  }
  // add is monotone non-decreasing in t, so a binary search finds the last t with add(t) <= now.
  // Start from an estimate that is below the answer (the duration is at most ~31 days per month
  // longer than its shortest reading) and an upper bound of `now` itself (add(t) >= t).
  const maxSpan =
    (duration.years * 366 + duration.months * 31 + duration.days + 1) * DAY_MS +
    ((duration.hours * 60 + duration.minutes) * 60 + duration.seconds) * 1000;
  let low = nowMs - maxSpan; // add(low) <= now
  let high = nowMs + 1; // add(high) > now (add(t) >= t)
  if (addMs(low, duration) > nowMs) low -= maxSpan;
  while (high - low > 1) {
    const mid = low + Math.floor((high - low) / 2);
    if (addMs(mid, duration) <= nowMs) low = mid;
    else high = mid;
  }
  return new Date(low);
}
