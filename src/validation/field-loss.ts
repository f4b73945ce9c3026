/**
 * Field-loss detection: the reference's "data loss during transformations" pitfall. A field present
 * in a stage's input and missing from its output, and not declared dropped, is a bug until proven
 * otherwise (a mapper forgetting `metadata`, a transform forgetting its `return`).
 *
 * What counts as a field: the own enumerable string keys of an object whose value is not
 * `undefined`, for plain objects and class instances alike (`__proto__` included: JSON.parse makes
 * it an own key). Arrays have no fields of their own; their elements' fields are one level down
 * (`items.*.note`). Maps, Sets, Dates and binary data are opaque values. Symbol-keyed fields are not
 * data in a JSON-shaped record (JSON, zod objects and databases drop them anyway) and are ignored.
 *
 * When is a field lost: paths are compared by how many places hold them. Outside arrays a path
 * holds one value or none, so a field is lost when the output lacks it. Arrays are compared as
 * multisets, never by position: for each path, the output must hold it in as many places as the
 * input, except that removing elements (filtering) takes their fields with them. Precisely, a field
 * at `path`, whose parent is `parent` (`items.*` for `items.*.note`, `shipping` for
 * `shipping.city`, the value itself for a top-level field), is lost when
 *
 *     count_out(path) < count_in(path) - max(0, count_in(parent) - count_out(parent))
 *
 * So reordering an array never loses anything, filtering never does by itself, and a field removed
 * from every element is lost whenever its elements stay; an array emptied or replaced by a
 * non-array had its elements removed. An object replaced by `null`, a primitive, an array or a Map
 * loses its fields (the path itself is still there, its fields are not); a field
 * missing altogether is reported once, not with every field under it. The value itself is never
 * "missing": a transform returning `undefined` for an object loses every field of it.
 *
 * Cost: a fast check walks the input's keys once, pairs arrays by position and copies nothing;
 * values that are the same reference in input and output are skipped, so `{ ...input, extra }`
 * costs one comparison per key. Only when it finds something possibly missing (a loss, a declared
 * drop, an array whose length or order changed, a class instance) is the exact comparison above
 * made.
 *
 * @internal
 */

/**
 * How many levels below the top the comparison goes; deeper structures are treated as opaque
 * values. Each step down is one level, into an object's field or into an array's elements, so
 * `items.*.note` is found two levels down and reported paths have at most MAX_DEPTH + 1 segments.
 * Counting arrays too is what bounds the walk over nested or self-containing arrays.
 */
const MAX_DEPTH = 8;

/** True for `{}` literals and `Object.create(null)`, not for arrays, dates or class instances. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Values compared as a whole: their contents are not fields of a record. */
function isOpaque(value: object): boolean {
  return (
    value instanceof Date ||
    value instanceof Map ||
    value instanceof Set ||
    ArrayBuffer.isView(value)
  );
}

/**
 * The dotted paths of fields of `input` that `output` lost (see the module comment) and that are
 * not in `drops`, in the input's order; `undefined` when none are lost.
 */
export function findLostFields(
  input: unknown,
  output: unknown,
  drops: ReadonlySet<string>,
): string[] | undefined {
  if (input === output || typeof input !== 'object' || input === null) return undefined;
  // Fast path: is anything possibly missing at all? No paths, no counts, no drops lookups.
  if (!valueMayLose(input, output, 0)) return undefined;
  const paths = new Paths(drops);
  paths.pair(input, output, null, 0);
  return paths.lost();
}

// --- Fast path: pairs everything by position; false only when nothing can be lost --------------

function objectMayLose(input: Record<string, unknown>, output: unknown, depth: number): boolean {
  // Not a plain object (a class instance, whose fields may be getters on its prototype, null, an
  // array…): the exact check decides. `constructor` is one inline-cached load, where
  // Object.getPrototypeOf on every nested object costs a third of this walk.
  if (
    typeof output !== 'object' ||
    output === null ||
    (output as { constructor?: unknown }).constructor !== Object
  ) {
    return hasFields(input);
  }
  const fields = output as Record<string, unknown>;
  // for…in walks the enum cache without allocating; plain objects inherit no enumerable keys.
  for (const key in input) {
    const before = input[key];
    if (before === undefined) continue;
    const after = fields[key];
    if (after === undefined) return true;
    // A key named like an Object.prototype method (`toString`) reads as present when it is not.
    if (typeof after === 'function' && !Object.hasOwn(output, key)) return true;
    if (before !== after && typeof after === 'object' && after !== null) {
      // Object.prototype's one non-function: a missing own `__proto__` reads as the prototype.
      // Tested here, not per key, so equal and primitive values pay nothing for it.
      if (after === Object.prototype && !Object.hasOwn(output, key)) return true;
      if (
        depth < MAX_DEPTH &&
        typeof before === 'object' &&
        before !== null &&
        valueMayLose(before, after, depth + 1)
      ) {
        return true;
      }
    } else if (
      before !== after &&
      depth < MAX_DEPTH &&
      typeof before === 'object' &&
      before !== null &&
      hasFields(before)
    ) {
      // An object replaced by a primitive or null: its fields are gone (the exact check decides).
      return true;
    }
  }
  return false;
}

/** True when `value` has an enumerable key whose value is not undefined (arrays: an element). */
function hasFields(value: object): boolean {
  for (const key in value) if ((value as Record<string, unknown>)[key] !== undefined) return true;
  return false;
}

function valueMayLose(input: object, output: unknown, depth: number): boolean {
  if (Array.isArray(input)) {
    // Elements are one level further down, like an object's fields.
    if (depth >= MAX_DEPTH) return false;
    if (!Array.isArray(output)) return true;
    // Another length (filtering, appending) or another order: the exact, order-free check decides.
    if (output.length !== input.length) return true;
    for (let i = 0; i < input.length; i++) {
      const a: unknown = input[i];
      const b: unknown = output[i];
      if (a !== b && typeof a === 'object' && a !== null && valueMayLose(a, b, depth + 1)) {
        return true;
      }
    }
    return false;
  }
  // Plain objects, the usual case, skip the four opaque-type checks.
  if ((input as { constructor?: unknown }).constructor !== Object && isOpaque(input)) return false;
  return objectMayLose(input as Record<string, unknown>, output, depth);
}

// --- Exact comparison --------------------------------------------------------------------------

/** How often a path occurs on each side; `parent` is null for a top-level field. */
interface PathCount {
  input: number;
  output: number;
  readonly parent: string | null;
  /** False for element paths (`items.*`): counted for filtering, never reported. */
  readonly field: boolean;
}

const enumerable = Object.prototype.propertyIsEnumerable;

class Paths {
  readonly #drops: ReadonlySet<string>;
  readonly #counts = new Map<string, PathCount>();

  constructor(drops: ReadonlySet<string>) {
    this.#drops = drops;
  }

  /**
   * Compares two values at the same path. Objects are paired key by key (a path outside arrays
   * occurs at most once per side); arrays switch to counting, each side on its own.
   */
  pair(input: unknown, output: unknown, path: string | null, depth: number): void {
    if (typeof input !== 'object' || input === null) return;
    if (Array.isArray(input)) {
      if (depth >= MAX_DEPTH) return;
      // Replaced by something that is not an array: its elements were removed, like filtering.
      this.#pairArrays(input, Array.isArray(output) ? output : [], path, depth);
      return;
    }
    if (isOpaque(input)) return;
    const fields = typeof output === 'object' && output !== null && !Array.isArray(output);
    const keep = fields && !isOpaque(output);
    for (const key of Object.keys(input)) {
      const before = (input as Record<string, unknown>)[key];
      if (before === undefined) continue;
      const at = path === null ? key : `${path}.${key}`;
      if (this.#drops.has(at)) continue;
      const after =
        keep && enumerable.call(output, key) ? (output as Record<string, unknown>)[key] : undefined;
      this.#counts.set(at, {
        input: 1,
        output: after === undefined ? 0 : 1,
        parent: path,
        field: true,
      });
      // A missing field is reported alone, not with every field under it.
      if (after !== undefined && before !== after && depth < MAX_DEPTH) {
        this.pair(before, after, at, depth + 1);
      }
    }
  }

  lost(): string[] | undefined {
    const lost: string[] = [];
    for (const [path, count] of this.#counts) {
      if (!count.field || count.output >= count.input) continue;
      const parent = count.parent === null ? undefined : this.#counts.get(count.parent);
      const removed = parent === undefined ? 0 : Math.max(0, parent.input - parent.output);
      if (count.input - count.output > removed) lost.push(path);
    }
    return lost.length === 0 ? undefined : lost;
  }

  /** Counts both arrays' elements, skipping those that are the same reference on both sides. */
  #pairArrays(
    input: readonly unknown[],
    output: readonly unknown[],
    path: string | null,
    depth: number,
  ): void {
    const at = path === null ? '*' : `${path}.*`;
    if (this.#drops.has(at)) return;
    const unmatched = new Map<unknown, number>();
    for (const element of input) unmatched.set(element, (unmatched.get(element) ?? 0) + 1);
    const shared = new Map<unknown, number>();
    const outputOnly: unknown[] = [];
    for (const element of output) {
      const left = unmatched.get(element) ?? 0;
      if (left > 0 && element !== undefined) {
        unmatched.set(element, left - 1);
        shared.set(element, (shared.get(element) ?? 0) + 1);
      } else {
        outputOnly.push(element);
      }
    }
    let count = this.#counts.get(at);
    if (count === undefined) {
      count = { input: 0, output: 0, parent: path, field: false };
      this.#counts.set(at, count);
    }
    for (const element of input) {
      if (element === undefined) continue;
      const pairs = shared.get(element) ?? 0;
      if (pairs > 0) {
        // The same element on both sides holds the same paths on both: counting it changes nothing.
        shared.set(element, pairs - 1);
        continue;
      }
      count.input += 1;
      this.#count(element, at, depth + 1, 'input');
    }
    for (const element of outputOnly) {
      if (element === undefined) continue;
      count.output += 1;
      this.#count(element, at, depth + 1, 'output');
    }
  }

  /**
   * Counts the paths under `value` on one side. The output side only counts paths the input has:
   * a path absent from the input cannot make a field lost, nor can anything under it.
   */
  #count(value: unknown, path: string, depth: number, side: 'input' | 'output'): void {
    if (typeof value !== 'object' || value === null) return;
    if (Array.isArray(value)) {
      if (depth >= MAX_DEPTH) return;
      const at = `${path}.*`;
      let count = this.#counts.get(at);
      if (count === undefined) {
        if (side === 'output' || this.#drops.has(at)) return;
        count = { input: 0, output: 0, parent: path, field: false };
        this.#counts.set(at, count);
      }
      for (const element of value) {
        if (element === undefined) continue;
        count[side] += 1;
        this.#count(element, at, depth + 1, side);
      }
      return;
    }
    if (isOpaque(value)) return;
    for (const key of Object.keys(value)) {
      const field = (value as Record<string, unknown>)[key];
      if (field === undefined) continue;
      const at = `${path}.${key}`;
      let count = this.#counts.get(at);
      if (count === undefined) {
        if (side === 'output' || this.#drops.has(at)) continue;
        count = { input: 0, output: 0, parent: path, field: true };
        this.#counts.set(at, count);
      }
      count[side] += 1;
      if (depth < MAX_DEPTH) this.#count(field, at, depth + 1, side);
    }
  }
}

/**
 * Where the keys a validate stage's schema stripped sit in `input`, as full paths with array
 * indices (`['items', 2, 'giftWrap']`): the keys whose dotted path (`items.*.giftWrap`) is in
 * `paths` and that `output` lacks. Pairs arrays by position, as a schema's output keeps them.
 */
export function findUnknownKeys(
  input: unknown,
  output: unknown,
  paths: ReadonlySet<string>,
): (string | number)[][] {
  const found: (string | number)[][] = [];
  const walk = (
    before: unknown,
    after: unknown,
    pattern: string | null,
    path: readonly (string | number)[],
    depth: number,
  ): void => {
    if (typeof before !== 'object' || before === null) return;
    if (Array.isArray(before)) {
      if (depth >= MAX_DEPTH || !Array.isArray(after)) return;
      const at = pattern === null ? '*' : `${pattern}.*`;
      const length = Math.min(before.length, after.length);
      for (let i = 0; i < length; i++) walk(before[i], after[i], at, [...path, i], depth + 1);
      return;
    }
    if (isOpaque(before)) return;
    const fields = typeof after === 'object' && after !== null && !Array.isArray(after);
    for (const key of Object.keys(before)) {
      const value = (before as Record<string, unknown>)[key];
      if (value === undefined) continue;
      const at = pattern === null ? key : `${pattern}.${key}`;
      const kept =
        fields && enumerable.call(after, key) ? (after as Record<string, unknown>)[key] : undefined;
      if (kept === undefined) {
        if (paths.has(at)) found.push([...path, key]);
      } else if (depth < MAX_DEPTH) {
        walk(value, kept, at, [...path, key], depth + 1);
      }
    }
  };
  walk(input, output, null, [], 0);
  return found;
}
