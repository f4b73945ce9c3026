import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { updateSchemaFrom } from './index.js';

const CreateProduct = z.object({
  sku: z.string().regex(/^[A-Z0-9-]{3,32}$/),
  description: z.string().max(100),
  priceCents: z.int().positive(),
  status: z.enum(['draft', 'active']).default('draft'),
  tags: z.array(z.string()).max(5).catch([]),
  notes: z.string().max(20).nullable().optional(),
});

describe('updateSchemaFrom', () => {
  it('rejects an over-long description with the same rule as create', () => {
    const Update = updateSchemaFrom(CreateProduct);
    const tooLong = 'x'.repeat(101);
    const onCreate = CreateProduct.safeParse({ sku: 'ABC', description: tooLong, priceCents: 1 });
    const onUpdate = Update.safeParse({ description: tooLong });
    expect(onCreate.success).toBe(false);
    expect(onUpdate.success).toBe(false);
    const pick = (issues: readonly z.core.$ZodIssue[]) =>
      issues.map(({ code, path, message }) => ({ code, path, message }));
    expect(pick(onUpdate.error?.issues ?? [])).toEqual(pick(onCreate.error?.issues ?? []));
    expect(Update.safeParse({ priceCents: 0 }).success).toBe(false);
    expect(Update.safeParse({ sku: 'lower' }).success).toBe(false);
  });

  it('makes every field optional without applying defaults or catch values', () => {
    const Update = updateSchemaFrom(CreateProduct);
    expect(Update.parse({ description: 'new' })).toEqual({ description: 'new' });
    expect(Update.parse({ status: 'active' })).toEqual({ status: 'active' });
    expect(Update.safeParse({ tags: ['a', 'b', 'c', 'd', 'e', 'f'] }).success).toBe(false);
    expect(Update.parse({ notes: null })).toEqual({ notes: null });
  });

  it('rejects unknown keys and empty updates', () => {
    const Update = updateSchemaFrom(CreateProduct);
    expect(Update.safeParse({ description: 'x', isAdmin: true }).error?.issues[0]?.code).toBe(
      'unrecognized_keys',
    );
    const empty = Update.safeParse({});
    expect(empty.error?.issues[0]).toMatchObject({
      code: 'custom',
      path: [],
      message: 'An update must set at least one field',
    });
    expect(Update.safeParse({ description: undefined }).success).toBe(false);
  });

  it('omits fields that can never change', () => {
    const Update = updateSchemaFrom(CreateProduct, { omit: ['sku'] });
    expect(Update.safeParse({ sku: 'NEW-1' }).error?.issues[0]?.code).toBe('unrecognized_keys');
    expect(Object.keys(Update.shape)).not.toContain('sku');
  });

  it('removes defaults and catch values under readonly, transform, pipe, codec and lazy', () => {
    const Update = updateSchemaFrom(
      z.object({
        name: z.string(),
        s1: z.enum(['draft', 'active']).default('draft').readonly(),
        s2: z
          .string()
          .default('x')
          .transform((s) => s.toUpperCase()),
        s3: z.number().catch(0).pipe(z.number()),
        s4: z.string().pipe(z.string().max(3).catch('-')),
        s5: z
          .codec(z.string().default('1'), z.number(), {
            decode: (s) => Number(s),
            encode: (n) => String(n),
          })
          .optional(),
        s6: z.lazy(() => z.string().default('lz')),
        s7: z.number().prefault(1).nullable().readonly(),
        s8: z.number().catch(0).nonoptional(),
      }),
    );
    expect(Update.safeParse({ name: 'a' }).data).toEqual({ name: 'a' });
    expect(Update.safeParse({ s3: 'bad' }).success).toBe(false);
    expect(Update.safeParse({ s4: 'long' }).success).toBe(false);
    expect(Update.safeParse({ s8: 'bad' }).success).toBe(false);
    expect(Update.safeParse({ s1: 'bogus' }).success).toBe(false);
    // Everything but the fallbacks still runs on a value that was sent.
    expect(Update.parse({ s1: 'active', s2: 'b', s3: 2, s5: '7', s6: 'v', s7: null })).toEqual({
      s1: 'active',
      s2: 'B',
      s3: 2,
      s5: 7,
      s6: 'v',
      s7: null,
    });
  });

  it('refuses, naming the field, a default or catch it cannot remove', () => {
    const inUnion = z.object({
      id: z.string(),
      kind: z.union([z.enum(['a', 'b']).default('a'), z.number()]),
    });
    expect(() => updateSchemaFrom(inUnion)).toThrow(TypeError);
    expect(() => updateSchemaFrom(inUnion)).toThrow(/create\.kind/);
    const caught = z.object({ n: z.intersection(z.number().catch(0), z.number()) });
    expect(() => updateSchemaFrom(caught)).toThrow(/create\.n/);
    // Defaults inside the members' objects are fine: an update sends such a value whole.
    const shapes = z.object({
      shape: z.discriminatedUnion('kind', [
        z.object({ kind: z.literal('circle'), radius: z.number().default(1) }),
        z.object({ kind: z.literal('square'), side: z.number() }),
      ]),
    });
    expect(updateSchemaFrom(shapes).parse({ shape: { kind: 'circle' } })).toEqual({
      shape: { kind: 'circle', radius: 1 },
    });
    // Left out with omit, such a field is no obstacle.
    expect(updateSchemaFrom(inUnion, { omit: ['kind'] }).parse({ id: 'x' })).toEqual({ id: 'x' });
  });

  it('explains what it cannot do', () => {
    expect(() => updateSchemaFrom(z.string() as never)).toThrow(/zod object schema/);
    const refined = CreateProduct.refine((p) => p.priceCents < 1_000_000);
    expect(() => updateSchemaFrom(refined)).toThrow(/object-level refinements/);
    expect(() => updateSchemaFrom(CreateProduct, { omit: ['nope' as never] })).toThrow(
      /options.omit names "nope"/,
    );
  });
});
