/**
 * Results as JSON: what `run()` hands back is what a replay parses from the store, so the first
 * call and every retry see equal values. A value JSON would change on the way (a `Map` becoming
 * `{}`, `undefined` in an array becoming `null`, `NaN` becoming `null`) is refused instead of
 * silently altered; a value with a `toJSON()` (a `Date`) is taken in its JSON form on both paths.
 */

/** A value JSON carries as it is. */
export type JsonPrimitive = string | number | boolean | null;

/** JSON data, as `JSON.parse` returns it (an `undefined` object member is allowed: JSON drops it). */
export type JsonValue =
  | JsonPrimitive
  | readonly JsonValue[]
  | { readonly [key: string]: JsonValue | undefined };

/**
 * The type of a value of type `T` after a JSON round trip, which is what `run()` returns (first
 * call and replays alike) with the default serializer: a `Date` is its ISO-8601 string, a
 * value with `toJSON()` its JSON form, members that JSON cannot carry (functions, `Map`, `Set`,
 * `bigint`, symbols) are `never` because `run()` refuses them at run time.
 *
 * @example
 * ```ts
 * type Order = { id: string; createdAt: Date };
 * type Replayed = Jsonify<Order>; // { id: string; createdAt: string }
 * ```
 */
export type Jsonify<T> = T extends JsonPrimitive | undefined
  ? T
  : // Already JSON data (and so not walked: recursive JSON types stay cheap).
    T extends JsonValue
    ? T
    : T extends HasToJson<infer J>
      ? Jsonify<J>
      : T extends
            | bigint
            | symbol
            | ((...args: never[]) => unknown)
            | ReadonlyMap<unknown, unknown>
            | ReadonlySet<unknown>
            | WeakMap<object, unknown>
            | WeakSet<object>
            | Promise<unknown>
        ? never
        : T extends readonly unknown[]
          ? // An item may not be undefined (refused: JSON would turn it into null).
            { -readonly [K in keyof T]: Jsonify<Exclude<T[K], undefined>> }
          : T extends object
            ? { -readonly [K in keyof T as K extends string ? K : never]: Jsonify<T[K]> }
            : never;

/** A value with its own JSON form (a `Date`): `JSON.stringify` encodes what `toJSON()` returns. */
export interface HasToJson<J> {
  /** The value's JSON form; `key` is the member or index it is encoded under. */
  toJSON(key?: string): J;
}

/** Deeper values are refused: they are circular, or would overflow the stack of a JSON parser. */
const MAX_DEPTH = 1000;

/**
 * Where a result stops being JSON-safe, and why. `path` is JSONPath-like (`$.items[2].at`).
 *
 * @internal
 */
export class NotJsonResult extends TypeError {
  readonly path: string;

  constructor(path: (string | number)[], reason: string) {
    const where = `$${path.map((part) => (typeof part === 'number' ? `[${part}]` : `.${part}`)).join('')}`;
    super(`the result at ${where} ${reason}`);
    this.name = 'TypeError';
    this.path = where;
  }
}

/**
 * `JSON.stringify(value)`, refusing any value whose JSON round trip would not give it back as it is
 * (besides `toJSON()` values, taken in their JSON form, and `undefined` object members, dropped).
 *
 * @throws NotJsonResult (a `TypeError`) naming the path of the first value at fault.
 * @internal
 */
export function encodeJsonResult(value: unknown): string {
  check(value, [], []);
  return JSON.stringify(value);
}

function check(value: unknown, path: (string | number)[], ancestors: object[]): void {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(value)) {
        throw new NotJsonResult(path, `is ${value}, which JSON turns into null`);
      }
      return;
    case 'object':
      break;
    case 'undefined':
      throw new NotJsonResult(path, 'is undefined, which JSON turns into null in an array');
    default:
      throw new NotJsonResult(path, `is a ${typeof value}, which JSON cannot carry`);
  }
  if (value === null) return;
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') {
    // Taken in its JSON form on both paths (a Date is its ISO string): check that form.
    const key = path.length === 0 ? '' : String(path[path.length - 1]);
    const json: unknown = toJSON.call(value, key);
    if (json !== undefined) check(json, path, ancestors);
    return;
  }
  if (ancestors.includes(value) || ancestors.length >= MAX_DEPTH) {
    throw new NotJsonResult(path, 'refers back to itself (a cycle) or is nested too deep');
  }
  ancestors.push(value);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      path.push(i);
      check(value[i], path, ancestors);
      path.pop();
    }
  } else {
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
      throw new NotJsonResult(
        path,
        `is an instance of ${typeof name === 'string' && name ? name : 'a class'}, which JSON does not give back; return plain data, or give a serializer that revives it`,
      );
    }
    for (const key of Object.keys(value)) {
      const member = (value as Record<string, unknown>)[key];
      // Dropped by JSON on both paths: the first call gets the round trip too.
      if (member === undefined) continue;
      path.push(key);
      check(member, path, ancestors);
      path.pop();
    }
  }
  ancestors.pop();
}
