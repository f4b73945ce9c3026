import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { findLostFields } from './field-loss.js';
import { pipeline } from './index.js';
import { syncRejection } from './rejection.fixture.js';

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
 * The documented semantics, written the obvious way (count every path on each side, then apply
 * the rule; no fast path, no pairing), to hold the optimised implementation to. Paths come back
 * sorted: the implementation reports them in the input's order, which pairing may change.
 */
function referenceLostFields(
  input: unknown,
  output: unknown,
  drops: ReadonlySet<string>,
): string[] | undefined {
  const count = (
    value: unknown,
    counts: Map<string, number>,
    parents?: Map<string, string | null>,
  ) => {
    const add = (path: string) => counts.set(path, (counts.get(path) ?? 0) + 1);
    const walk = (v: unknown, path: string | null, depth: number) => {
      if (typeof v !== 'object' || v === null) return;
      if (Array.isArray(v)) {
        if (depth >= MAX_DEPTH) return;
        const at = path === null ? '*' : `${path}.*`;
        if (drops.has(at)) return;
        for (const element of v as unknown[]) {
          if (element === undefined) continue;
          add(at);
          walk(element, at, depth + 1);
        }
        return;
      }
      if (v instanceof Date || v instanceof Map || v instanceof Set || ArrayBuffer.isView(v))
        return;
      for (const key of Object.keys(v)) {
        const field = (v as Record<string, unknown>)[key];
        if (field === undefined) continue;
        const at = path === null ? key : `${path}.${key}`;
        if (drops.has(at)) continue;
        add(at);
        parents?.set(at, path);
        if (depth < MAX_DEPTH) walk(field, at, depth + 1);
      }
    };
    walk(value, null, 0);
  };
  const before = new Map<string, number>();
  const after = new Map<string, number>();
  const parents = new Map<string, string | null>();
  count(input, before, parents);
  count(output, after);
  const lost: string[] = [];
  for (const [path, parent] of parents) {
    const missing = (before.get(path) ?? 0) - (after.get(path) ?? 0);
    const removed =
      parent === null ? 0 : Math.max(0, (before.get(parent) ?? 0) - (after.get(parent) ?? 0));
    if (missing > removed) lost.push(path);
  }
  return lost.length === 0 ? undefined : lost.sort();
}

/** What findLostFields reports, sorted like {@link referenceLostFields}. */
function sortedLost(input: unknown, output: unknown, drops: ReadonlySet<string>) {
  return findLostFields(input, output, drops)?.sort();
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
    const map = pipeline<{ a: number }>('p')
      .transform('map', ({ a }) => ({ a }))
      .build();
    const parse = pipeline('p')
      .validate('parse', z.object({ a: z.number() }))
      .build();
    const keys = (error: { details: { issues?: unknown } }) =>
      (error.details.issues as { path: unknown[] }[]).map((issue) => issue.path);
    for (const text of [
      '{"a":1,"__proto__":"x"}',
      '{"a":1,"__proto__":{}}',
      '{"a":1,"__proto__":{"b":2}}',
      '{"a":1,"__proto__":null}',
    ]) {
      expect(syncRejection(() => map.runSync(JSON.parse(text))).details.fields).toEqual([
        '__proto__',
      ]);
      // A schema stripping it: an unknown key of the input.
      expect(keys(syncRejection(() => parse.runSync(JSON.parse(text))))).toEqual([['__proto__']]);
    }
    expect(
      syncRejection(() => map.runSync(JSON.parse('{"a":1,"__proto__":"x","b":2}'))).details.fields,
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
      | {
          readonly kind: 'array';
          readonly items: readonly Shape[];
          readonly keep: number;
          readonly reverse: boolean;
        }
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
          reverse: fc.boolean(),
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
        const kept = items.slice(0, s.keep).map((item, i) => derive(s.items[i] as Shape, item));
        return s.reverse ? kept.reverse() : kept;
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
        expect(sortedLost(input, output, declared)).toEqual(
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
    expect([...(lost ?? [])].sort()).toEqual(referenceLostFields({ a: selfA }, { a: selfB }, none));
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
        expect(lost?.sort()).toEqual(referenceLostFields(input, output, none));
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

describe('findLostFields: outputs that are not plain objects', () => {
  class PaymentRow {
    constructor(
      readonly amount: number,
      readonly currency: string,
    ) {}
    get metadata(): unknown {
      return { fromTheGetter: true };
    }
  }
  const payment = { amount: 1099, currency: 'USD', metadata: { orderId: '123' } };

  it('reports every field of an object turned into undefined, null, a primitive, an array or a Map', () => {
    for (const output of [undefined, null, 0, 'payment', true, [], [payment], new Map()]) {
      expect(findLostFields(payment, output, none), String(output)).toEqual([
        'amount',
        'currency',
        'metadata',
      ]);
    }
    expect(findLostFields({}, undefined, none)).toBe(undefined);
    expect(findLostFields({ a: undefined }, null, none)).toBe(undefined);
  });

  it("counts a class instance's own enumerable fields, never its prototype's getters", () => {
    expect(findLostFields(payment, new PaymentRow(1099, 'USD'), none)).toEqual(['metadata']);
    expect(findLostFields(payment, new PaymentRow(1099, 'USD'), new Set(['metadata']))).toBe(
      undefined,
    );
    const complete = Object.defineProperty(new PaymentRow(1099, 'USD'), 'metadata', {
      value: payment.metadata,
      enumerable: true,
    });
    expect(findLostFields(payment, complete, none)).toBe(undefined);
    // As input too: the instance's own fields must reach the output.
    expect(findLostFields(new PaymentRow(1, 'EUR'), { amount: 1 }, none)).toEqual(['currency']);
    expect(findLostFields({ row: new PaymentRow(1, 'EUR') }, { row: { amount: 1 } }, none)).toEqual(
      ['row.currency'],
    );
  });

  it('reports the fields of a nested object replaced by null or a primitive', () => {
    const order = { id: 1, shipping: { city: 'London', country: 'GB' } };
    expect(findLostFields(order, { id: 1, shipping: null }, none)).toEqual([
      'shipping.city',
      'shipping.country',
    ]);
    expect(findLostFields(order, { id: 1, shipping: 'London, GB' }, none)).toEqual([
      'shipping.city',
      'shipping.country',
    ]);
    expect(findLostFields(order, { id: 1, shipping: null }, new Set(['shipping']))).toBe(undefined);
    // A field missing altogether is reported once, not with every field under it.
    expect(findLostFields(order, { id: 1 }, none)).toEqual(['shipping']);
  });

  it('keeps Dates, Maps, Sets and binary data opaque', () => {
    const input = { at: new Date(0), tags: new Set(['a']), bytes: new Uint8Array([1, 2]) };
    const output = { at: new Date(0), tags: new Set(), bytes: new Uint8Array() };
    expect(findLostFields(input, output, none)).toBe(undefined);
  });
});

describe('findLostFields: arrays are compared without regard to order', () => {
  const order = {
    items: [
      { sku: 'b', qty: 1 },
      { sku: 'a', qty: 2, note: 'gift' },
      { sku: 'c', qty: 3 },
    ],
  };

  it('never reports sorting', () => {
    const sorted = { items: [...order.items].sort((x, y) => x.sku.localeCompare(y.sku)) };
    expect(findLostFields(order, sorted, none)).toBe(undefined);
    const copied = { items: sorted.items.map((item) => ({ ...item })) };
    expect(findLostFields(order, copied, none)).toBe(undefined);
  });

  it('never reports filtering, even out of the only element carrying a field', () => {
    const withoutGift = { items: order.items.filter((item) => item.note === undefined) };
    expect(findLostFields(order, withoutGift, none)).toBe(undefined);
    expect(findLostFields(order, { items: [] }, none)).toBe(undefined);
    const rebuilt = { items: withoutGift.items.map((item) => ({ ...item })) };
    expect(findLostFields(order, rebuilt, none)).toBe(undefined);
  });

  it('reports a field removed from every element, or from more elements than were removed', () => {
    const noNotes = { items: order.items.map(({ note: _, ...item }) => item) };
    expect(findLostFields(order, noNotes, none)).toEqual(['items.*.note']);
    expect(findLostFields(order, noNotes, new Set(['items.*.note']))).toBe(undefined);
    const twoNotes = { items: [{ n: 1, note: 'x' }, { n: 2, note: 'y' }, { n: 3 }] };
    // One element removed cannot explain two missing notes.
    expect(findLostFields(twoNotes, { items: [{ n: 1 }, { n: 3 }] }, none)).toEqual([
      'items.*.note',
    ]);
    expect(findLostFields(twoNotes, { items: [{ n: 1, note: 'x' }, { n: 3 }] }, none)).toBe(
      undefined,
    );
  });

  /** Records whose `items` are objects drawn from a few keys, some optional. */
  const items = fc.array(
    fc.record(
      {
        sku: fc.string({ maxLength: 3 }),
        note: fc.string(),
        tags: fc.array(fc.nat(), { maxLength: 2 }),
      },
      { requiredKeys: ['sku'] },
    ),
    { maxLength: 8 },
  );

  it('property: permuting (and copying) elements never reports a loss', () => {
    fc.assert(
      fc.property(items, fc.func(fc.integer()), fc.boolean(), (list, rank, copy) => {
        const permuted = [...list].sort((a, b) => rank(a) - rank(b) || 0);
        const output = { items: copy ? permuted.map((item) => ({ ...item })) : permuted };
        expect(findLostFields({ items: list }, output, none)).toBe(undefined);
      }),
    );
  });

  it('property: removing a field from every element always reports it', () => {
    fc.assert(
      fc.property(
        items.filter((list) => list.some((item) => item.note !== undefined)),
        fc.func(fc.integer()),
        (list, rank) => {
          const output = [...list]
            .sort((a, b) => rank(a) - rank(b) || 0)
            .map(({ note: _, ...item }) => item);
          expect(findLostFields({ items: list }, { items: output }, none)).toEqual([
            'items.*.note',
          ]);
        },
      ),
    );
  });

  it('property: filtering never reports a loss; the reference agrees on every case', () => {
    fc.assert(
      fc.property(items, fc.func(fc.boolean()), (list, keep) => {
        const filtered = list.filter((item) => keep(item));
        expect(findLostFields({ items: list }, { items: filtered }, none)).toBe(undefined);
        const mapped = filtered.map(({ note: _, ...item }) => item);
        expect(sortedLost({ items: list }, { items: mapped }, none)).toEqual(
          referenceLostFields({ items: list }, { items: mapped }, none),
        );
      }),
    );
  });
});
