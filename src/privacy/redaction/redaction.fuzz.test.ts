/**
 * Properties of redaction over open-ended inputs: 105,000 cases in all, each cheap, so the whole
 * file runs in CI time. A planted secret at a redacted path never shows, whatever holds it; the
 * input is never changed; no prototype is polluted; and for JSON input `redact` and `stringify`
 * agree.
 */
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRedactor, type RedactionRule } from './redactor.js';

const SECRET = 'PLANTED-SECRET-VALUE';
const KEYS = ['a', 'b', 'token', 'x', '__proto__', 'constructor', 'prototype', 'k-1', 'a.b'];

/** One step of a concrete path: an object key or an array index. */
type Step = { readonly key: string } | { readonly index: number };

/** How each container along the planted path holds the next step. */
const CONTAINER_KINDS = ['object', 'map', 'instance', 'toJSON', 'getter', 'error'] as const;
type ContainerKind = (typeof CONTAINER_KINDS)[number];

class Box {}

/** Arbitrary nested values: objects, arrays, Maps, Sets, class instances, toJSON, getters, Errors. */
const { value: anyValue } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.oneof(fc.string({ maxLength: 6 }), fc.integer(), fc.boolean(), fc.constant(null)),
    fc.dictionary(fc.constantFrom(...KEYS), tie('value'), { maxKeys: 3 }).map(asJsonParsed),
    fc.array(tie('value'), { maxLength: 3 }),
    fc
      .array(fc.tuple(fc.constantFrom(...KEYS), tie('value')), { maxLength: 2 })
      .map((e) => new Map(e)),
    fc.array(tie('value'), { maxLength: 2 }).map((items) => new Set(items)),
    fc
      .dictionary(fc.constantFrom('a', 'x'), tie('value'), { maxKeys: 2 })
      .map((props) => Object.assign(new Box(), props)),
    tie('value').map((inner) => ({ toJSON: () => inner })),
    tie('value').map((inner) => {
      const holder = {};
      Object.defineProperty(holder, 'x', { get: () => inner, enumerable: true });
      return holder;
    }),
    fc
      .tuple(fc.string({ maxLength: 5 }), tie('value'))
      .map(([message, cause]) => new Error(message, { cause })),
  ),
}));

/** An object with the given own properties, `__proto__` included as an own key (as JSON.parse makes it). */
function asJsonParsed(props: Record<string, unknown>): Record<string, unknown> {
  return defineAll({}, Object.entries(props));
}

/** `target` with `entries` as own enumerable data properties (`__proto__` included, as data). */
function defineAll<T extends object>(target: T, entries: readonly [string, unknown][]): T {
  for (const [key, item] of entries) {
    Object.defineProperty(target, key, {
      value: item,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return target;
}

/** A container of `kind` holding `child` under `step`, with random siblings. */
function contain(step: Step, child: unknown, kind: ContainerKind, siblings: unknown[]): unknown {
  if ('index' in step) {
    const items = [...siblings.slice(0, step.index)];
    while (items.length < step.index) items.push({ pad: items.length });
    items.push(child, ...siblings.slice(step.index));
    // A Set stands for an array here, when no two items are the same (it would merge them).
    return kind === 'map' && new Set(items).size === items.length ? new Set(items) : items;
  }
  const entries: [string, unknown][] = siblings.map((sibling, i) => [`s${i}`, sibling]);
  entries.push([step.key, child]);
  switch (kind) {
    case 'map':
      return new Map(entries);
    case 'instance':
      return defineAll(new Box(), entries);
    case 'toJSON': {
      const inner = defineAll({}, entries);
      return { toJSON: () => inner };
    }
    case 'getter': {
      const holder: Record<string, unknown> = {};
      for (const [key, item] of entries) {
        Object.defineProperty(holder, key, { get: () => item, enumerable: true });
      }
      return holder;
    }
    case 'error':
      return defineAll(new Error('boom'), entries);
    default:
      return defineAll({}, entries);
  }
}

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.constantFrom(...KEYS, 'message', 'cause').map((key) => ({ key })),
  fc.integer({ min: 0, max: 2 }).map((index) => ({ index })),
);

/** How a path pattern names one concrete step: literally, with `*`, or inside a `**`. */
const patternChoice = fc.constantFrom('literal', 'literal', 'star', 'deep');

function literal(s: Step): string {
  if ('index' in s) return `[${s.index}]`;
  return /^[A-Za-z_$][\w$-]*$/.test(s.key) ? `.${s.key}` : `[${JSON.stringify(s.key)}]`;
}

/** A pattern matching `steps`: each step literal or `*`, runs of `deep` steps folded into one `**`. */
function pattern(steps: readonly Step[], choices: readonly string[], leadingDeep: boolean): string {
  let out = leadingDeep ? '.**' : '';
  steps.forEach((s, i) => {
    const choice = choices[i] ?? 'literal';
    if (choice === 'deep' && i < steps.length - 1) {
      if (!out.endsWith('.**')) out += '.**';
    } else if (choice === 'star' || choice === 'deep') out += '.*';
    else out += literal(s);
  });
  return out.startsWith('.') ? out.slice(1) : out;
}

const planted = fc.record({
  steps: fc.array(step, { minLength: 1, maxLength: 6 }),
  choices: fc.array(patternChoice, { minLength: 6, maxLength: 6 }),
  kinds: fc.array(fc.constantFrom(...CONTAINER_KINDS), { minLength: 6, maxLength: 6 }),
  siblings: fc.array(fc.array(anyValue, { maxLength: 2 }), { minLength: 6, maxLength: 6 }),
  leadingDeep: fc.boolean(),
  extraPaths: fc.array(fc.constantFrom('a.b', '*.x', '**.token', 'x[0]', '**.a.**.b'), {
    maxLength: 2,
  }),
  remove: fc.boolean(),
});

describe('redaction properties', () => {
  it('never shows a secret planted at a redacted path (static, *, runs of *, **, arrays, any holder)', () => {
    fc.assert(
      fc.property(
        planted,
        ({ steps, choices, kinds, siblings, leadingDeep, extraPaths, remove }) => {
          let value: unknown = SECRET;
          for (let i = steps.length - 1; i >= 0; i -= 1) {
            value = contain(steps[i] as Step, value, kinds[i] as ContainerKind, siblings[i] ?? []);
          }
          // The root is an object: wrap an array root the way a logger would.
          const root = Array.isArray(value) || value instanceof Set ? undefined : value;
          if (root === undefined) return;
          const path = pattern(steps, choices, leadingDeep);
          const rules: RedactionRule = remove ? { remove: true } : {};
          const redactor = createRedactor({ paths: [...extraPaths, path], ...rules });
          const text = redactor.stringify(root);
          if (text.includes(SECRET)) {
            throw new Error(`secret shown for path ${path}: ${text}`);
          }
          expect(JSON.stringify(redactor.redact(root)) ?? '').not.toContain(SECRET);
        },
      ),
      { numRuns: 50_000 },
    );
  });

  it('never changes its input', () => {
    const cloneable = fc.letrec<{ value: unknown }>((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        fc.oneof(fc.string({ maxLength: 4 }), fc.integer(), fc.constant(null), fc.bigInt()),
        fc.dictionary(fc.constantFrom(...KEYS), tie('value'), { maxKeys: 3 }).map(asJsonParsed),
        fc.array(tie('value'), { maxLength: 3 }),
        fc
          .array(fc.tuple(fc.constantFrom(...KEYS), tie('value')), { maxLength: 2 })
          .map((e) => new Map(e)),
        fc.array(tie('value'), { maxLength: 2 }).map((items) => new Set(items)),
        fc
          .tuple(fc.string({ maxLength: 4 }), tie('value'))
          .map(([m, cause]) => new Error(m, { cause })),
      ),
    })).value;
    fc.assert(
      fc.property(
        cloneable,
        fc.array(fc.constantFrom('a', 'a.b', '*.token', '**.x', 'a[0]', '**', '__proto__.a'), {
          maxLength: 3,
        }),
        fc.array(fc.constantFrom('tok*', '?', /^b$/), { maxLength: 2 }),
        fc.boolean(),
        (input, paths, keys, remove) => {
          const before = structuredClone(input);
          const redactor = createRedactor({ paths, keys, ...(remove ? { remove: true } : {}) });
          redactor.redact(input);
          redactor.stringify(input);
          // Node's deep equality compares prototypes, and an own `constructor` key cannot fool it.
          expect(isDeepStrictEqual(input, before)).toBe(true);
        },
      ),
      { numRuns: 20_000 },
    );
  });

  it('never pollutes a prototype, whatever __proto__, constructor or prototype keys it meets', () => {
    const jsonWithProto = fc
      .letrec<{ value: unknown }>((tie) => ({
        value: fc.oneof(
          { depthSize: 'small' },
          fc.constantFrom('v', 1, null),
          fc.dictionary(
            fc.constantFrom('__proto__', 'constructor', 'prototype', 'polluted', 'a'),
            tie('value'),
            {
              maxKeys: 4,
            },
          ),
          fc.array(tie('value'), { maxLength: 2 }),
        ),
      }))
      .value.map(
        (value) => JSON.parse(JSON.stringify(value).replaceAll('"a":', '"__proto__":')) as unknown,
      );
    fc.assert(
      fc.property(
        jsonWithProto,
        fc.array(
          fc.constantFrom(
            '__proto__.polluted',
            'constructor.prototype.polluted',
            '**.polluted',
            '*.*',
          ),
          {
            maxLength: 2,
          },
        ),
        fc.constantFrom<unknown>('x', { polluted: true }, (v: unknown) => ({ polluted: v })),
        (input, paths, censor) => {
          const redactor = createRedactor({ paths, keys: ['polluted'], censor: censor as never });
          const output = redactor.redact(input);
          redactor.stringify(input);
          expect(({} as Record<string, unknown>).polluted).toBeUndefined();
          expect(Object.keys(Object.prototype)).toEqual([]);
          expect(Object.prototype).not.toHaveProperty('polluted');
          if (typeof output === 'object' && output !== null && !Array.isArray(output)) {
            expect(Object.getPrototypeOf(output)).toBe(Object.prototype);
          }
        },
      ),
      { numRuns: 10_000 },
    );
  });

  it('gives the same result from redact and stringify for JSON input', () => {
    const keyed = fc.oneof(fc.constantFrom(...KEYS), fc.string({ maxLength: 3 }));
    const json = fc.letrec<{ value: unknown }>((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        fc.oneof(
          fc.string({ maxLength: 4 }),
          fc.integer(),
          fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => (n === 0 ? 0 : n)),
          fc.boolean(),
          fc.constant(null),
        ),
        fc.dictionary(keyed, tie('value'), { maxKeys: 4 }).map(asJsonParsed),
        fc.array(tie('value'), { maxLength: 3 }),
      ),
    })).value;
    fc.assert(
      fc.property(
        json,
        fc.array(
          fc.constantFrom('a', 'a.b', '*.token', '**.x', 'a[0]', '[1]', 'b.*.*.*', '**.a.**.b'),
          {
            maxLength: 3,
          },
        ),
        fc.array(fc.constantFrom('tok*', 'x?', /^B$/i), { maxLength: 2 }),
        fc.constantFrom('censor', 'remove', 'function'),
        (input, paths, keys, action) => {
          const redactor = createRedactor({
            paths,
            keys,
            ...(action === 'remove' ? { remove: true } : {}),
            ...(action === 'function'
              ? { censor: (v: unknown, at) => `${typeof v}@${at.path.join('/')}` }
              : {}),
          });
          const text = redactor.stringify(input);
          expect(text).toBe(JSON.stringify(redactor.redact(input)) ?? 'null');
          expect(JSON.parse(text)).toEqual(redactor.redact(input));
        },
      ),
      { numRuns: 25_000 },
    );
  });
});
