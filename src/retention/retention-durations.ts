// TEMPORARY stand-in for the policies helper's file (contract shapes only), deleted before merge.
export interface RetentionDuration {
  readonly years: number;
  readonly months: number;
  readonly days: number;
  readonly hours: number;
  readonly minutes: number;
  readonly seconds: number;
  readonly text: string;
}
export type RetentionPeriod = RetentionDuration | 'indefinite';
const UNITS = ['years', 'months', 'weeks', 'days', 'hours', 'minutes', 'seconds'] as const;
export function parseRetentionDuration(text: string, name = 'duration'): RetentionDuration {
  const d = { years: 0, months: 0, days: 0, hours: 0, minutes: 0, seconds: 0 };
  const parts = typeof text === 'string' ? [...text.matchAll(/(\d+)\s*([a-z]+)/gi)] : [];
  if (parts.length === 0) throw new TypeError(`${name} must be a duration, got ${String(text)}`);
  for (const [, n, u] of parts) {
    const unit = UNITS.find((x) => x.startsWith((u as string).toLowerCase().replace(/s$/, '')));
    if (unit === undefined) throw new TypeError(`${name} must be a duration, got ${text}`);
    if (unit === 'weeks') d.days += 7 * Number(n);
    else d[unit] += Number(n);
  }
  return { ...d, text };
}
export function isRetentionDuration(value: unknown): value is RetentionDuration {
  return typeof value === 'object' && value !== null && 'text' in value && 'months' in value;
}
export function addRetentionDuration(at: Date | number, d: RetentionDuration): Date {
  const t = new Date(at);
  const y = t.getUTCFullYear() + d.years;
  const m = t.getUTCMonth() + d.months;
  const last = new Date(Date.UTC(y, m + 1, 0)).getUTCDate();
  const day = Math.min(t.getUTCDate(), last);
  const base = Date.UTC(
    y,
    m,
    day,
    t.getUTCHours(),
    t.getUTCMinutes(),
    t.getUTCSeconds(),
    t.getUTCMilliseconds(),
  );
  return new Date(base + ((d.days * 24 + d.hours) * 60 + d.minutes) * 60_000 + d.seconds * 1000);
}
export function retentionCutoff(now: Date | number, d: RetentionDuration): Date {
  const n = new Date(now).getTime();
  let lo =
    n -
    (d.years * 366 + d.months * 31 + d.days + 2) * 86_400_000 -
    (d.hours * 3600 + d.minutes * 60 + d.seconds) * 1000;
  let hi = n;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (addRetentionDuration(mid, d).getTime() <= n) lo = mid;
    else hi = mid - 1;
  }
  // Month-end clamping makes add() non-monotonic (Feb 29 + 3 years = Feb 28 00:00, before the
  // image of Feb 28 12:00): the cutoff stops before the earliest time not yet due.
  const startDay = Math.floor(lo / 86_400_000) * 86_400_000 - 4 * 86_400_000;
  let cutoff = lo;
  for (let s = startDay; s <= lo; s += 86_400_000) {
    const f = addRetentionDuration(s, d).getTime();
    const first = s + Math.max(0, n - f + 1);
    if (first < s + 86_400_000 && first - 1 < cutoff) cutoff = first - 1;
  }
  return new Date(cutoff);
}
