/**
 * Field paths of a classification: `email`, `address.street`, `orders[*].card`, `meta.*`,
 * `["x-api-key"]`. A path names the same place in every record of a shape; `*` (or `[*]`) stands
 * for every key of an object or every element of an array at one level.
 *
 * Paths here are walked over values with copy on write: a change at a path copies the objects
 * and arrays along it and shares everything else, so the input is never mutated.
 */
import { parseRedactionPath } from './redaction/redaction-paths.js';

/** One step of a parsed path: a key (an array index is its decimal text), or `*`. */
export type FieldPathSegment = string | typeof ANY;

/** The `*` segment. */
export const ANY: unique symbol = Symbol('*');

/** What a change callback returns to delete the value at a path. */
export const REMOVE: unique symbol = Symbol('remove');

/**
 * The segments of `path`, in the syntax redaction paths use, without `**`: a classified field
 * names one place in a record.
 *
 * @throws TypeError naming `name` and the position of the first character that does not parse.
 */
export function parseFieldPath(path: string, name: string): readonly FieldPathSegment[] {
  if (typeof path !== 'string' || path === '') {
    throw new TypeError(
      `${name} must be a non-empty field path such as 'email' or 'orders[*].card'`,
    );
  }
  return parseRedactionPath(path, name).map((segment) => {
    if (segment.kind === 'deep') {
      throw new TypeError(
        `${name} ${JSON.stringify(path)} cannot use '**': a field names one place`,
      );
    }
    return segment.kind === 'any' ? ANY : segment.key;
  });
}

/** A field's value as text, when it is text or a number; `undefined` for anything else. */
export function fieldText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  return undefined;
}

/** Whether `segments` (a pattern) names the concrete path `concrete`. */
export function pathMatches(
  segments: readonly FieldPathSegment[],
  concrete: readonly (string | number)[],
): boolean {
  if (segments.length !== concrete.length) return false;
  for (let i = 0; i < segments.length; i += 1) {
    const segment = segments[i];
    if (segment !== ANY && String(segment) !== String(concrete[i])) return false;
  }
  return true;
}

/** A value found at a path, with the concrete path it was found at. */
export interface FoundValue {
  /** Keys and indexes from the root. */
  readonly path: readonly (string | number)[];
  /** The value. */
  readonly value: unknown;
}

/** Every value `segments` names in `root` (absent keys are skipped). */
export function findAt(root: unknown, segments: readonly FieldPathSegment[]): FoundValue[] {
  const found: FoundValue[] = [];
  const walk = (value: unknown, depth: number, path: (string | number)[]): void => {
    if (depth === segments.length) {
      found.push({ path, value });
      return;
    }
    if (typeof value !== 'object' || value === null) return;
    const segment = segments[depth] as FieldPathSegment;
    if (segment === ANY) {
      for (const key of childKeys(value)) walk(childOf(value, key), depth + 1, [...path, key]);
      return;
    }
    if (!hasChild(value, segment)) return;
    walk(childOf(value, segment), depth + 1, [...path, segment]);
  };
  walk(root, 0, []);
  return found;
}

/**
 * `root` with the values at concrete paths replaced (or removed with {@link REMOVE}). Copies the
 * objects and arrays along each path once, shares the rest, and never mutates `root`.
 */
export function replaceAt(
  root: unknown,
  changes: readonly { readonly path: readonly (string | number)[]; readonly value: unknown }[],
): unknown {
  if (changes.length === 0) return root;
  const copies = new WeakSet<object>();
  const copyOf = (value: object): Record<string | number, unknown> => {
    if (copies.has(value)) return value as Record<string, unknown>;
    // Spread keeps an own `__proto__` key as data; it never sets a prototype.
    const copy = Array.isArray(value) ? [...value] : { ...(value as Record<string, unknown>) };
    copies.add(copy);
    return copy as Record<string | number, unknown>;
  };
  let result = root;
  for (const { path, value } of changes) {
    if (path.length === 0 || typeof result !== 'object' || result === null) continue;
    result = copyOf(result);
    let parent = result as Record<string | number, unknown>;
    for (let i = 0; i < path.length - 1; i += 1) {
      const key = path[i] as string | number;
      const child = parent[key];
      if (typeof child !== 'object' || child === null) break;
      const copy = copyOf(child);
      parent[key] = copy;
      parent = copy;
    }
    const last = path[path.length - 1] as string | number;
    if (value === REMOVE) {
      if (Array.isArray(parent)) parent[last as number] = undefined;
      else delete parent[last];
    } else parent[last] = value;
  }
  return result;
}

function childKeys(value: object): (string | number)[] {
  return Array.isArray(value) ? value.map((_, i) => i) : Object.keys(value);
}

function hasChild(value: object, key: string | number): boolean {
  return Array.isArray(value)
    ? /^(0|[1-9]\d*)$/.test(String(key)) && Number(key) < value.length
    : Object.hasOwn(value, key);
}

function childOf(value: object, key: string | number): unknown {
  return (value as Record<string | number, unknown>)[key];
}
