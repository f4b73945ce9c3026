/**
 * What a classification lets others see of a record: the masked view for API responses, and the
 * allow-list projection for a third party (a CRM, an analytics tool), which keeps only what that
 * recipient was given.
 */
import type { CompiledField } from './classification.js';
import { ANY, type FieldPathSegment, fieldText, findAt, REMOVE, replaceAt } from './field-paths.js';

/**
 * The record as an API may show it: masked fields masked (`j***@example.com`), encrypted and
 * tokenized fields masked when they have a masker, every other classified field removed.
 * Unclassified fields are kept. Never mutates `record`.
 *
 * @internal
 */
export function maskedView(fields: readonly CompiledField[], record: unknown): unknown {
  const changes: { path: readonly (string | number)[]; value: unknown }[] = [];
  for (const compiled of fields) {
    const { handling } = compiled.field;
    const shows =
      compiled.masker !== undefined &&
      (handling === 'mask' || handling === 'tokenize' || handling === 'encrypt');
    for (const found of findAt(record, compiled.segments)) {
      changes.push({ path: found.path, value: shows ? masked(compiled, found.value) : REMOVE });
    }
  }
  return replaceAt(record, changes);
}

function masked(compiled: CompiledField, value: unknown): unknown {
  if (value === null || value === undefined) return value;
  const text = fieldText(value);
  // A value a masker cannot read (an object, a boolean) is not shown at all.
  return text === undefined ? REMOVE : (compiled.masker as (value: string) => string)(text);
}

/** The allow-list of one recipient, compiled. @internal */
export interface AllowList {
  readonly root: AllowNode;
  readonly paths: readonly (readonly FieldPathSegment[])[];
}

interface AllowNode {
  /** Everything below is allowed (less the classified fields not listed themselves). */
  whole: boolean;
  readonly children: Map<FieldPathSegment, AllowNode>;
}

/** Compiles a recipient's allowed paths. @internal */
export function compileAllowList(paths: readonly (readonly FieldPathSegment[])[]): AllowList {
  const root: AllowNode = { whole: false, children: new Map() };
  for (const segments of paths) {
    let node = root;
    for (const segment of segments) {
      let next = node.children.get(segment);
      if (next === undefined) {
        next = { whole: false, children: new Map() };
        node.children.set(segment, next);
      }
      node = next;
    }
    node.whole = true;
  }
  return { root, paths };
}

/**
 * Only what `allow` lists of `record`. A listed path whose value is an object or array brings
 * it whole, except classified fields inside it that the list does not name themselves: those
 * are removed, so a field classified later never leaks through a parent listed earlier.
 *
 * @internal
 */
export function projectForRecipient(
  fields: readonly CompiledField[],
  allow: AllowList,
  record: unknown,
): unknown {
  const projected = project(record, allow.root);
  const changes: { path: readonly (string | number)[]; value: unknown }[] = [];
  for (const compiled of fields) {
    if (allow.paths.some((path) => samePattern(path, compiled.segments))) continue;
    for (const found of findAt(projected, compiled.segments)) {
      changes.push({ path: found.path, value: REMOVE });
    }
  }
  return replaceAt(projected, changes);
}

function project(value: unknown, node: AllowNode): unknown {
  if (node.whole) return value;
  if (typeof value !== 'object' || value === null) return undefined;
  const any = node.children.get(ANY);
  if (Array.isArray(value)) {
    if (any !== undefined) return value.map((element) => project(element, any));
    const kept: unknown[] = [];
    for (const [segment, child] of node.children) {
      const index =
        typeof segment === 'string' && /^(0|[1-9]\d*)$/.test(segment) ? Number(segment) : -1;
      if (index >= 0 && index < value.length) kept[index] = project(value[index], child);
    }
    return kept;
  }
  const result: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const child = node.children.get(key) ?? any;
    if (child === undefined) continue;
    const projected = project((value as Record<string, unknown>)[key], child);
    if (projected === undefined) continue;
    // defineProperty: a `__proto__` key from parsed JSON stays data, never a prototype.
    Object.defineProperty(result, key, {
      value: projected,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return result;
}

/** Whether two patterns name the same fields. @internal */
export function samePattern(
  a: readonly FieldPathSegment[],
  b: readonly FieldPathSegment[],
): boolean {
  return a.length === b.length && a.every((segment, i) => String(segment) === String(b[i]));
}
