import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type DerivedProvenance,
  derive,
  isTraced,
  type Provenance,
  sourced,
  sourcedFrom,
  type Traced,
} from './provenance.js';

const FETCHED = '2025-11-15T14:32:15.000Z';

describe('sourced', () => {
  it('keeps the value with its source, fetch time and attributes', () => {
    const rate = sourced(0.0875, {
      source: 'tax_service',
      fetchedAt: '2025-11-15T09:32:16-05:00',
      attributes: { jurisdiction: 'NY' },
    });
    expect(rate.value).toBe(0.0875);
    expect(rate.provenance).toEqual({
      kind: 'sourced',
      value: 0.0875,
      source: 'tax_service',
      fetchedAt: '2025-11-15T14:32:16.000Z',
      attributes: { jurisdiction: 'NY' },
    });
    expect(isTraced(rate)).toBe(true);
    expect(Object.isFrozen(rate)).toBe(true);
  });

  it('takes the fetch time as a Date or epoch milliseconds, and defaults it to now', () => {
    const at = Date.UTC(2025, 10, 15, 14, 32, 15);
    expect(sourced(1, { source: 's', fetchedAt: at }).provenance).toMatchObject({
      fetchedAt: FETCHED,
    });
    expect(sourced(1, { source: 's', fetchedAt: new Date(at) }).provenance).toMatchObject({
      fetchedAt: FETCHED,
    });
    const before = Date.now();
    const fetchedAt = Date.parse(
      (sourced(1, { source: 's' }).provenance as { fetchedAt: string }).fetchedAt,
    );
    expect(fetchedAt).toBeGreaterThanOrEqual(before - 1);
    expect(fetchedAt).toBeLessThanOrEqual(Date.now());
  });

  it('marks masked values, and copies attributes so later changes do not rewrite them', () => {
    const attributes: Record<string, string> = { method: 'ground' };
    const card = sourced('**** 4242', { source: 'checkout', masked: true, attributes });
    attributes.method = 'air';
    expect(card.provenance).toMatchObject({ masked: true, attributes: { method: 'ground' } });
  });

  it('refuses bad options with a TypeError naming the option', () => {
    const bad: [unknown, RegExp][] = [
      [undefined, /options/],
      [{}, /options\.source/],
      [{ source: '' }, /options\.source/],
      [{ source: 'x'.repeat(201) }, /options\.source/],
      [{ source: 's', fetchedAt: '2025-11-15T14:32:15' }, /options\.fetchedAt/],
      [{ source: 's', fetchedAt: Number.NaN }, /options\.fetchedAt/],
      [{ source: 's', fetchedAt: new Date(Number.NaN) }, /options\.fetchedAt/],
      [{ source: 's', masked: 'yes' }, /options\.masked/],
      [{ source: 's', attributes: 'NY' }, /options\.attributes/],
      [{ source: 's', fetchAt: FETCHED }, /fetchAt/],
    ];
    for (const [options, message] of bad) {
      expect(() => sourced(1, options as never)).toThrow(TypeError);
      expect(() => sourced(1, options as never)).toThrow(message);
    }
  });
});

describe('sourcedFrom', () => {
  it('stamps the time the fetch resolved', async () => {
    let resolvedAt = 0;
    const traced = await sourcedFrom(
      'shipping_calculator',
      async () => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        resolvedAt = Date.now();
        return 12.5;
      },
      { attributes: { method: 'ground' } },
    );
    expect(traced.value).toBe(12.5);
    const fetchedAt = Date.parse((traced.provenance as { fetchedAt: string }).fetchedAt);
    expect(fetchedAt).toBeGreaterThanOrEqual(resolvedAt);
    expect(traced.provenance).toMatchObject({
      source: 'shipping_calculator',
      attributes: { method: 'ground' },
    });
  });

  it('passes the fetch error through unchanged, and checks its arguments', async () => {
    const failure = new Error('tax service down');
    await expect(sourcedFrom('tax_service', () => Promise.reject(failure))).rejects.toBe(failure);
    await expect(sourcedFrom('', () => 1)).rejects.toThrow(/source/);
    await expect(sourcedFrom('s', 'no' as never)).rejects.toThrow(/fetch/);
    await expect(sourcedFrom('s', () => 1, { source: 'x' } as never)).rejects.toThrow(/source/);
  });
});

describe('derive', () => {
  const subtotal = sourced(125, { source: 'product_catalog_api', fetchedAt: FETCHED });
  const taxRate = sourced(0.0875, { source: 'tax_service', fetchedAt: FETCHED });

  it('gives the function plain values and records each input with its provenance', () => {
    let seen: unknown;
    const tax = derive('tax', 'v1', { subtotal, taxRate, rounding: 2 }, (values) => {
      seen = values;
      return Number((values.subtotal * values.taxRate).toFixed(values.rounding));
    });
    expect(seen).toEqual({ subtotal: 125, taxRate: 0.0875, rounding: 2 });
    expect(tax.value).toBe(10.94);
    const provenance = tax.provenance as DerivedProvenance;
    expect(provenance).toMatchObject({
      kind: 'derived',
      calculation: 'tax',
      version: 'v1',
      value: 10.94,
    });
    expect(provenance.inputs.subtotal).toBe(subtotal.provenance);
    expect(provenance.inputs.rounding).toEqual({ kind: 'literal', value: 2 });
    expect(Date.parse(provenance.calculatedAt)).not.toBeNaN();
  });

  it('nests: a total from a subtotal derived from line items explains all the way down', () => {
    const a = sourced(100, {
      source: 'product_catalog_api',
      fetchedAt: FETCHED,
      attributes: { sku: 'A' },
    });
    const b = sourced(25, {
      source: 'product_catalog_api',
      fetchedAt: FETCHED,
      attributes: { sku: 'B' },
    });
    const lineSubtotal = derive('subtotal', 'v1', { a, b }, (v) => v.a + v.b);
    const total = derive(
      'total',
      'v2',
      { subtotal: lineSubtotal, taxRate },
      (v) => v.subtotal * (1 + v.taxRate),
    );
    const root = total.provenance as DerivedProvenance;
    const sub = root.inputs.subtotal as DerivedProvenance;
    expect(sub.calculation).toBe('subtotal');
    expect(sub.inputs.b).toMatchObject({ kind: 'sourced', attributes: { sku: 'B' }, value: 25 });
  });

  it('returns a promise of the traced value when the function is asynchronous', async () => {
    const pending = derive(
      'shipping',
      'v3',
      { weightKg: 2 },
      async ({ weightKg }) => weightKg * 6.25,
    );
    expect(pending).toBeInstanceOf(Promise);
    const shipping = await pending;
    expect(shipping.value).toBe(12.5);
    expect(shipping.provenance).toMatchObject({ calculation: 'shipping', version: 'v3' });
  });

  it('lets what the function throws through unchanged, synchronously or not', async () => {
    const failure = new Error('no rate');
    expect(() =>
      derive('x', 'v1', {}, () => {
        throw failure;
      }),
    ).toThrow(failure);
    await expect(derive('x', 'v1', {}, async () => Promise.reject(failure))).rejects.toBe(failure);
  });

  it('is not rewritten by later changes to the inputs object', () => {
    const inputs: Record<string, unknown> = { a: 1 };
    const sum = derive('sum', 'v1', inputs, ({ a }) => (a as number) + 1);
    inputs.a = 99;
    expect((sum.provenance as DerivedProvenance).inputs.a).toEqual({ kind: 'literal', value: 1 });
  });

  it('reads the provenance of a chain of calculations far deeper than the call stack', () => {
    let chain: Traced<number> = sourced(0, { source: 'src', fetchedAt: FETCHED });
    for (let i = 0; i < 20_000; i++)
      chain = derive('step', 'v1', { prev: chain }, (v) => v.prev + 1);
    let node = chain.provenance;
    let depth = 0;
    while (node.kind === 'derived') {
      expect(node.value).toBe(20_000 - depth);
      node = node.inputs.prev as Provenance;
      depth++;
    }
    expect(depth).toBe(20_000);
    expect(node).toMatchObject({ kind: 'sourced', value: 0 });
  });

  it('refuses bad arguments with a TypeError naming them, before running the function', () => {
    let ran = false;
    const fn = () => {
      ran = true;
    };
    expect(() => derive('', 'v1', {}, fn)).toThrow(/name/);
    expect(() => derive('x', ' ', {}, fn)).toThrow(/version/);
    expect(() => derive('x', 'v1', null as never, fn)).toThrow(/inputs/);
    expect(() => derive('x', 'v1', {}, 'fn' as never)).toThrow(/fn/);
    expect(ran).toBe(false);
  });

  it('builds, for any tree of calculations, a provenance that mirrors it exactly', () => {
    type Tree = { leaf: number } | { calc: string; inputs: Tree[] };
    const tree: fc.Arbitrary<Tree> = fc.letrec<{ node: Tree }>((tie) => ({
      node: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        fc.record({ leaf: fc.integer({ min: -1000, max: 1000 }) }),
        fc.record({
          calc: fc.stringMatching(/^[a-z]{1,8}$/),
          inputs: fc.array(tie('node'), { maxLength: 4 }),
        }),
      ),
    })).node;
    const build = (node: Tree): Traced<number> =>
      'leaf' in node
        ? sourced(node.leaf, { source: 'src', fetchedAt: FETCHED })
        : derive(
            node.calc,
            'v1',
            Object.fromEntries(node.inputs.map((input, i) => [`i${i}`, build(input)])),
            (values) => Object.values(values).reduce((sum: number, v) => sum + (v as number), 0),
          );
    const check = (node: Tree, provenance: Provenance): number => {
      if ('leaf' in node) {
        expect(provenance).toMatchObject({ kind: 'sourced', value: node.leaf });
        return node.leaf;
      }
      expect(provenance.kind).toBe('derived');
      const derived = provenance as DerivedProvenance;
      expect(derived.calculation).toBe(node.calc);
      expect(Object.keys(derived.inputs)).toEqual(node.inputs.map((_, i) => `i${i}`));
      const sum = node.inputs.reduce(
        (total, input, i) => total + check(input, derived.inputs[`i${i}`] as Provenance),
        0,
      );
      expect(derived.value).toBe(sum);
      return sum;
    };
    fc.assert(
      fc.property(tree, (node) => {
        const traced = build(node);
        expect(check(node, traced.provenance)).toBe(traced.value);
      }),
      { numRuns: 300 },
    );
  });
});
