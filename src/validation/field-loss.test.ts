import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { syncFailure } from '../../test/support/failures.js';
import { findLostFields, isPlainObject } from './field-loss.js';
import { pipeline } from './index.js';

const none: ReadonlySet<string> = new Set();

/** The limit the header of field-loss.ts documents. */
const MAX_DEPTH = 8;

/** What JSON.parse does for each key: an own data property, even for `__proto__`. */
function record(entries: readonly (readonly [string, unknown])[]): Record<string, unknown> {
  const target: Record<string, unknown> = JSON.parse('{}');
  for (const [key, value] of entries) {
    Object.defineProperty(target, key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return target;
}

/**
 * The documented semantics, written the obvious way (own keys only, no fast path), to hold the
 * optimised implementation to.
 */
function referenceLostFields(
  input: unknown,
  output: unknown,
  drops: ReadonlySet<string>,
): string[] | undefined {
  if (input === output || !isPlainObject(input) || !isPlainObject(output)) return undefined;
  const lost: string[] = [];
  const compareObject = (
    before: Record<string, unknown>,
    after: Record<string, unknown>,
    prefix: string,
    depth: number,
  ) => {
    for (const key of Object.keys(before)) {
      const value = before[key];
      if (value === undefined) continue;
      const path = prefix === '' ? key : `${prefix}.${key}`;
      const kept = Object.hasOwn(after, key) ? after[key] : undefined;
      if (kept === undefined) {
        if (!drops.has(path)) lost.push(path);
      } else if (depth < MAX_DEPTH && !drops.has(path)) {
        compareValue(value, kept, path, depth + 1);
      }
    }
  };
  const compareValue = (before: unknown, after: unknown, path: string, depth: number) => {
    if (before === after) return;
    if (Array.isArray(before) && Array.isArray(after)) {
      if (depth >= MAX_DEPTH) return;
      for (let i = 0; i < Math.min(before.length, after.length); i++) {
        compareValue(before[i], after[i], `${path}.*`, depth + 1);
      }
    } else if (isPlainObject(before) && isPlainObject(after)) {
      compareObject(before, after, path, depth);
    }
  };
  compareObject(input, output, '', 0);
  return lost.length === 0 ? undefined : [...new Set(lost)];
}

/** A value nested `levels` deep, alternating arrays and objects, with `{ x: 1 }` at the bottom. */
function nested(levels: number, arrays: 'all' | 'none' | 'mixed'): unknown {
  let value: unknown = { x: 1 };
  for (let i = 0; i < levels; i++) {
    const array = arrays === 'all' || (arrays === 'mixed' && i % 2 === 0);
    value = array ? [value] : { k: value };
  }
  return value;
}

describe('findLostFields: an own __proto__ key', () => {
  it('reports it lost, like any other key, whatever its value', () => {
    const parse = pipeline('p')
      .validate('parse', z.object({ a: z.number() }))
      .build();
    for (const text of [
      '{"a":1,"__proto__":"x"}',
      '{"a":1,"__proto__":{}}',
      '{"a":1,"__proto__":{"b":2}}',
      '{"a":1,"__proto__":null}',
    ]) {
      expect(syncFailure(() => parse.runSync(JSON.parse(text))).details.fields).toEqual([
        '__proto__',
      ]);
    }
    expect(
      syncFailure(() => parse.runSync(JSON.parse('{"a":1,"__proto__":"x","b":2}'))).details.fields,
    ).toEqual(['__proto__', 'b']);
  });

  it('reports it lost when nested, and not when the output keeps it', () => {
    const nestedInput = JSON.parse('{"a":{"n":1,"__proto__":"x"}}');
    expect(findLostFields(nestedInput, { a: { n: 1 } }, none)).toEqual(['a.__proto__']);
    expect(findLostFields(nestedInput, JSON.parse('{"a":{"n":1,"__proto__":"y"}}'), none)).toBe(
      undefined,
    );
    const copy = pipeline<unknown>('p')
      .transform('copy', (v) => JSON.parse(JSON.stringify(v)) as unknown)
      .build();
    expect(copy.runSync(JSON.parse('{"a":1,"__proto__":{"b":2}}')).ok).toBe(true);
    expect(findLostFields(JSON.parse('{"__proto__":1}'), Object.create(null), none)).toEqual([
      '__proto__',
    ]);
    expect(findLostFields(JSON.parse('{"__proto__":1}'), {}, new Set(['__proto__']))).toBe(
      undefined,
    );
  });

  it('agrees with a straightforward reference on objects built by JSON.parse', () => {
    // Keys an Object.prototype lookup answers (`__proto__`, `toString`) next to ordinary ones.
    const key = fc.constantFrom('a', 'b', '__proto__', 'toString', 'constructor', 'valueOf');
    type Fate = 'keep' | 'share' | 'drop' | 'undefined' | 'replace';
    const fate = fc.constantFrom<Fate>(
      'keep',
      'keep',
      'keep',
      'share',
      'drop',
      'undefined',
      'replace',
    );
    type Shape =
      | { readonly kind: 'leaf'; readonly value: string | number | boolean | null }
      | { readonly kind: 'array'; readonly items: readonly Shape[]; readonly keep: number }
      | { readonly kind: 'object'; readonly entries: readonly (readonly [string, Fate, Shape])[] };
    const { shape } = fc.letrec<{ shape: Shape }>((tie) => ({
      shape: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        fc.record({
          kind: fc.constant('leaf' as const),
          value: fc.oneof(
            fc.integer(),
            fc.string({ maxLength: 3 }),
            fc.boolean(),
            fc.constant(null),
          ),
        }),
        fc.record({
          kind: fc.constant('array' as const),
          items: fc.array(tie('shape'), { maxLength: 3 }),
          keep: fc.nat(3),
        }),
        fc.record({
          kind: fc.constant('object' as const),
          entries: fc.uniqueArray(fc.tuple(key, fate, tie('shape')), {
            maxLength: 4,
            selector: ([k]) => k,
          }),
        }),
      ),
    }));
    const toJson = (s: Shape): string =>
      s.kind === 'leaf'
        ? JSON.stringify(s.value)
        : s.kind === 'array'
          ? `[${s.items.map(toJson).join(',')}]`
          : `{${s.entries.map(([k, , v]) => `${JSON.stringify(k)}:${toJson(v)}`).join(',')}}`;
    // The stage's output: rebuilt from the input, losing, blanking, replacing or sharing values.
    const derive = (s: Shape, input: unknown): unknown => {
      if (s.kind === 'leaf') return input;
      if (s.kind === 'array') {
        const items = input as unknown[];
        return items.slice(0, s.keep).map((item, i) => derive(s.items[i] as Shape, item));
      }
      const source = input as Record<string, unknown>;
      const entries: [string, unknown][] = [];
      for (const [k, f, v] of s.entries) {
        const value = source[k];
        if (f === 'keep') entries.push([k, derive(v, value)]);
        else if (f === 'share') entries.push([k, value]);
        else if (f === 'undefined') entries.push([k, undefined]);
        else if (f === 'replace') entries.push([k, 0]);
      }
      return record(entries);
    };
    const drops = fc.subarray(['a', 'b', '__proto__', 'a.__proto__', 'a.*.b', 'b.toString']);
    const objectShape = shape.filter((s) => s.kind === 'object');
    fc.assert(
      fc.property(objectShape, drops, (s, dropped) => {
        const input: unknown = JSON.parse(toJson(s));
        const output = derive(s, input);
        const declared = new Set(dropped);
        expect(findLostFields(input, output, declared)).toEqual(
          referenceLostFields(input, output, declared),
        );
      }),
      { numRuns: 2000 },
    );
  });
});

describe('findLostFields: depth', () => {
  it('stops at MAX_DEPTH levels through nested arrays, as through nested objects', () => {
    for (const arrays of ['all', 'none', 'mixed'] as const) {
      // Rebuilt on each side, so no reference is shared and every level is compared.
      expect(
        findLostFields({ a: nested(50_000, arrays) }, { a: nested(50_000, arrays) }, none),
      ).toBe(undefined);
    }
    const build = (n: number) => {
      let v: unknown = [{ x: 1 }];
      for (let i = 0; i < n; i++) v = [v];
      return v;
    };
    const rebuild = pipeline<unknown>('d')
      .transform('rebuild', () => ({ a: build(50_000) }))
      .build();
    expect(rebuild.runSync({ a: build(50_000) }).ok).toBe(true);
  });

  it('treats self-containing arrays and objects as opaque below the limit', () => {
    const selfA: unknown[] = [];
    selfA.push(selfA, { x: 1 });
    const selfB: unknown[] = [];
    selfB.push(selfB, {});
    const lost = findLostFields({ a: selfA }, { a: selfB }, none);
    // `a.*.x`, `a.*.*.x`… down to the limit (depth first): 9 path segments at most.
    expect(lost).toEqual(referenceLostFields({ a: selfA }, { a: selfB }, none));
    expect(lost?.map((path) => path.split('.').length)).toEqual([9, 8, 7, 6, 5, 4, 3]);
    const objA: Record<string, unknown> = { x: 1 };
    objA.self = objA;
    const objB: Record<string, unknown> = { x: 1 };
    objB.self = objB;
    expect(findLostFields({ o: objA }, { o: objB }, none)).toBe(undefined);
  });

  it('counts an array level like an object level: losses up to MAX_DEPTH + 1 path segments', () => {
    for (const arrays of ['all', 'none', 'mixed'] as const) {
      for (let levels = 0; levels <= MAX_DEPTH + 2; levels++) {
        // `{ a: <levels deep> { x: 1 } }` against the same without `x`: a path of levels + 2 segments.
        const input = { a: nested(levels, arrays) };
        const output = JSON.parse(JSON.stringify(input).replace('"x":1', '')) as unknown;
        const lost = findLostFields(input, output, none);
        expect(lost?.[0]?.split('.').length, `${arrays} ${levels}`).toBe(
          levels + 2 <= MAX_DEPTH + 1 ? levels + 2 : undefined,
        );
        expect(lost).toEqual(referenceLostFields(input, output, none));
      }
    }
  });

  it('still sees real-world shapes with arrays inside arrays', () => {
    const input = {
      order: { items: [{ sku: 'a', options: [{ name: 'gift', price: 1 }] }] },
    };
    const output = { order: { items: [{ sku: 'a', options: [{ price: 1 }] }] } };
    expect(findLostFields(input, output, none)).toEqual(['order.items.*.options.*.name']);
    const matrix = { grid: [[[{ v: 1, note: 'n' }]]] };
    expect(findLostFields(matrix, { grid: [[[{ v: 1 }]]] }, none)).toEqual(['grid.*.*.*.note']);
  });
});

describe('findLostFields: symbol keys', () => {
  it('compares string keys only, as documented: symbol-keyed fields are not record data', () => {
    const tag = Symbol('tag');
    expect(findLostFields({ a: 1, [tag]: 1 }, { a: 1 }, none)).toBe(undefined);
    const parse = pipeline('p')
      .validate('parse', z.object({ a: z.number() }))
      .build();
    expect(parse.runSync({ a: 1, [tag]: 1 }).ok).toBe(true);
  });
});
