/**
 * zod is a peer dependency (`^4`): the application and flowproof must share one zod, or schemas of
 * one cannot hold schemas of the other. These checks turn a zod 3 found where zod 4 is needed into
 * a `TypeError` that says so, instead of an error from deep inside zod.
 */

/**
 * Throws a `TypeError` naming `what` when `zod` (the module flowproof imported) is not zod 4.
 *
 * @internal
 */
export function assertZod4(zod: object, what: string): void {
  const iso = (zod as { iso?: { datetime?: unknown } }).iso;
  if (typeof iso?.datetime !== 'function') {
    throw new TypeError(
      `${what} needs zod 4, but the zod installed next to flowproof is older (zod 3?); install zod@^4, the peer dependency flowproof declares`,
    );
  }
}

/**
 * True when `value` looks like a zod 3 schema: zod 3 schemas have `_def` and `_parse`; zod 4
 * schemas have `_zod` instead of `_parse`.
 *
 * @internal
 */
export function isZod3Schema(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  try {
    const candidate = value as { _def?: unknown; _parse?: unknown; _zod?: unknown };
    return (
      typeof candidate._def === 'object' &&
      candidate._def !== null &&
      typeof candidate._parse === 'function' &&
      candidate._zod === undefined
    );
  } catch {
    return false;
  }
}
