/**
 * Field-loss detection: the reference's "data loss during transformations" pitfall. A field present
 * in a stage's input and missing from its output, and not declared dropped, is a bug until proven
 * otherwise (a zod object silently stripping an unknown key, a mapper forgetting `metadata`).
 *
 * The check walks the input's own keys once and never copies anything: top-level keys, nested plain
 * objects, and arrays element by element (paths use `*` for the element: `items.*.note`). Values
 * that are the same reference in input and output are skipped, so `{ ...input, extra }` costs one
 * comparison per key. Array length changes (filtering) are not reported.
 *
 * Only own enumerable string keys are compared, `__proto__` included (JSON.parse makes it an own
 * key). Symbol-keyed fields are not: they are not data in a JSON-shaped record (JSON, zod objects
 * and databases drop them anyway), and listing them would cost an allocation per object.
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

/**
 * The dotted paths of fields in `input` that are absent (or `undefined`) in `output` and not in
 * `drops`; `undefined` when none are lost or when either side is not a plain object.
 */
export function findLostFields(
  input: unknown,
  output: unknown,
  drops: ReadonlySet<string>,
): string[] | undefined {
  if (input === output || !isPlainObject(input) || !isPlainObject(output)) return undefined;
  // Fast path: is anything missing at all? No paths, no arrays, no drops lookups. Only when it
  // says yes (a real loss, or a declared drop) are the paths worked out.
  if (!objectLosesKeys(input, output, 0)) return undefined;
  const lost: string[] = [];
  compareObjects(input, output, '', drops, lost, 0);
  return lost.length === 0 ? undefined : [...new Set(lost)];
}

function objectLosesKeys(
  input: Record<string, unknown>,
  output: Record<string, unknown>,
  depth: number,
): boolean {
  // for…in walks the enum cache without allocating; plain objects inherit no enumerable keys.
  for (const key in input) {
    const before = input[key];
    if (before === undefined) continue;
    const after = output[key];
    if (after === undefined) return true;
    // A key named like an Object.prototype method (`toString`) reads as present when it is not.
    if (typeof after === 'function' && !Object.hasOwn(output, key)) return true;
    if (before !== after && typeof after === 'object' && after !== null) {
      // Object.prototype's one non-function: a missing own `__proto__` reads as the prototype.
      // Tested here, not per key, so equal and primitive values pay nothing for it.
      if (after === Object.prototype) {
        if (!Object.hasOwn(output, key)) return true;
      } else if (
        depth < MAX_DEPTH &&
        typeof before === 'object' &&
        before !== null &&
        valueLosesKeys(before, after, depth + 1)
      ) {
        return true;
      }
    }
  }
  return false;
}

function valueLosesKeys(before: object, after: object, depth: number): boolean {
  if (Array.isArray(before)) {
    // Elements are one level further down, like an object's fields.
    if (!Array.isArray(after) || depth >= MAX_DEPTH) return false;
    const length = Math.min(before.length, after.length);
    for (let i = 0; i < length; i++) {
      const a: unknown = before[i];
      const b: unknown = after[i];
      if (
        a !== b &&
        typeof a === 'object' &&
        typeof b === 'object' &&
        a !== null &&
        b !== null &&
        valueLosesKeys(a, b, depth + 1)
      ) {
        return true;
      }
    }
    return false;
  }
  if (Array.isArray(after) || ArrayBuffer.isView(before) || before instanceof Map) return false;
  return objectLosesKeys(
    before as Record<string, unknown>,
    after as Record<string, unknown>,
    depth,
  );
}

function compareObjects(
  input: Record<string, unknown>,
  output: Record<string, unknown>,
  prefix: string,
  drops: ReadonlySet<string>,
  lost: string[],
  depth: number,
): void {
  for (const key of Object.keys(input)) {
    const before = input[key];
    if (before === undefined) continue;
    const path = prefix === '' ? key : `${prefix}.${key}`;
    const after = Object.hasOwn(output, key) ? output[key] : undefined;
    if (after === undefined) {
      if (!drops.has(path)) lost.push(path);
    } else if (
      before !== after &&
      depth < MAX_DEPTH &&
      typeof before === 'object' &&
      typeof after === 'object' &&
      before !== null &&
      after !== null &&
      !drops.has(path)
    ) {
      compareValues(before, after, path, drops, lost, depth + 1);
    }
  }
}

function compareValues(
  before: object,
  after: object,
  path: string,
  drops: ReadonlySet<string>,
  lost: string[],
  depth: number,
): void {
  if (Array.isArray(before)) {
    // Counted as in valueLosesKeys, so both walks stop at the same level.
    if (!Array.isArray(after) || depth >= MAX_DEPTH) return;
    const length = Math.min(before.length, after.length);
    const elementPath = `${path}.*`;
    for (let i = 0; i < length; i++) {
      const a = before[i];
      const b = after[i];
      if (a !== b && typeof a === 'object' && typeof b === 'object' && a !== null && b !== null) {
        compareValues(a, b, elementPath, drops, lost, depth + 1);
      }
    }
    return;
  }
  if (isPlainObject(before) && isPlainObject(after)) {
    compareObjects(before, after, path, drops, lost, depth);
  }
}
