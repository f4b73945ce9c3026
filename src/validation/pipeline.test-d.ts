import { describe, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import type { FlowproofError } from '../core/errors.js';
import {
  type BatchOutcome,
  type BatchReport,
  money,
  nonEmptyArray,
  type Pipeline,
  type PipelineResult,
  pipeline,
  positiveQuantity,
  type StageContext,
  type StageFailure,
  updateSchemaFrom,
  validateExternalResponse,
} from './index.js';

const Request = z.object({
  userId: z.string(),
  items: nonEmptyArray(z.object({ sku: z.string(), qty: positiveQuantity() })),
});

describe('pipeline types', () => {
  it('flows input and output types through the stages', () => {
    type Parsed = z.output<typeof Request>;
    const built = pipeline('create-order')
      .validate('parse', Request, { boundary: 'gateway' })
      .transform('normalize', (request) => {
        expectTypeOf(request).toEqualTypeOf<Parsed>();
        expectTypeOf(request.userId).toEqualTypeOf<string>();
        // nonEmptyArray: the first item needs no undefined check.
        expectTypeOf(request.items[0]).toEqualTypeOf<{ sku: string; qty: number }>();
        return { ...request, itemCount: request.items.length };
      })
      .enrich('price', async (request, context) => {
        expectTypeOf(request.itemCount).toEqualTypeOf<number>();
        expectTypeOf(context).toEqualTypeOf<StageContext>();
        return { ...request, price: { amount: 100, currency: 'EUR' } };
      })
      .build();
    type Out = typeof built extends Pipeline<unknown, infer O> ? O : never;
    expectTypeOf<Out['price']>().toEqualTypeOf<{ amount: number; currency: string }>();
    expectTypeOf<Out['itemCount']>().toEqualTypeOf<number>();
    expectTypeOf<Out['items']>().toEqualTypeOf<Parsed['items']>();
    expectTypeOf<keyof Out>().toEqualTypeOf<'userId' | 'items' | 'itemCount' | 'price'>();
    expectTypeOf(built.run).parameter(0).toBeUnknown();
  });

  it('unwraps promises returned by enrich and transform stages', () => {
    const built = pipeline<number>('p')
      .enrich('fetch', async (n) => String(n))
      .transform('length', (s) => s.length)
      .build();
    expectTypeOf(built).toEqualTypeOf<Pipeline<number, number>>();
    expectTypeOf(built.runSync).parameter(0).toEqualTypeOf<number>();
    // @ts-expect-error: the input type is enforced
    built.runSync('one');
  });

  it('takes the output of a validate stage from its schema, transforms included', () => {
    const built = pipeline('p')
      .validate(
        'parse',
        z.string().transform((s) => s.length),
      )
      .build();
    expectTypeOf(built).toEqualTypeOf<Pipeline<unknown, number>>();
  });

  it('types at and into: one field replaced or added, the rest kept', () => {
    const built = pipeline<{ user: string; lines: unknown[] }>('p')
      .validate('check lines', z.array(z.object({ price: z.int() })), { at: 'lines' })
      .validate(
        'totals',
        z.object({ lines: z.array(z.object({ price: z.int() })) }).transform(() => 1),
        {
          into: 'total',
        },
      )
      .build();
    type Out = typeof built extends Pipeline<unknown, infer O> ? O : never;
    expectTypeOf<Out>().toEqualTypeOf<{
      user: string;
      lines: { price: number }[];
      total: number;
    }>();
    // @ts-expect-error: at must name a field of the value
    pipeline<{ a: number }>('p').validate('v', z.number(), { at: 'b' });
  });

  it('types results and narrows on ok', async () => {
    const built = pipeline<number>('p')
      .transform('double', (n) => n * 2)
      .build();
    const result = await built.run(1);
    expectTypeOf(result).toEqualTypeOf<PipelineResult<number>>();
    if (result.ok) {
      expectTypeOf(result.value).toEqualTypeOf<number>();
      expectTypeOf(result.status).toEqualTypeOf<'valid' | 'flagged'>();
    } else {
      expectTypeOf(result.error).toEqualTypeOf<FlowproofError>();
      expectTypeOf(result.status).toEqualTypeOf<'rejected' | 'dead-lettered'>();
      expectTypeOf(result.stage).toEqualTypeOf<string>();
    }
  });

  it('types fallbacks with the stage input and output', () => {
    pipeline<{ subtotal: number }>('tax').transform(
      'tax',
      (order) => ({ ...order, tax: order.subtotal * 0.1 }),
      {
        onError: {
          fallback: (failure) => {
            expectTypeOf(failure).toEqualTypeOf<StageFailure<{ subtotal: number }>>();
            return { ...failure.value, tax: 0 };
          },
        },
      },
    );
    pipeline('p').validate('n', z.number(), { onError: { fallback: 0 } });
    // @ts-expect-error: the fallback must have the stage's output type
    pipeline('p').validate('n', z.number(), { onError: { fallback: 'zero' } });
    // @ts-expect-error: unknown policy
    pipeline('p').validate('n', z.number(), { onError: 'ignore' });
  });

  it('types batch outcomes and reports', async () => {
    const built = pipeline<number>('p')
      .transform('s', (n) => String(n))
      .build();
    expectTypeOf(built.stream([1, 2])).toEqualTypeOf<
      AsyncIterableIterator<BatchOutcome<number, string>>
    >();
    const report = await built.runBatch([1, 2]);
    expectTypeOf(report).toEqualTypeOf<BatchReport<number, string>>();
    const [first] = report.outcomes;
    if (first?.ok) expectTypeOf(first.value).toEqualTypeOf<string>();
    if (first) expectTypeOf(first.input).toEqualTypeOf<number>();
  });
});

describe('helper types', () => {
  it('updateSchemaFrom keeps field types, all optional, minus omitted fields', () => {
    const Create = z.object({ sku: z.string(), description: z.string().max(100), price: money() });
    const Update = updateSchemaFrom(Create, { omit: ['sku'] });
    expectTypeOf<z.output<typeof Update>>().toEqualTypeOf<{
      description?: string | undefined;
      price?: { amount: number; currency: string } | undefined;
    }>();
    // @ts-expect-error: omit must name fields of the create schema
    updateSchemaFrom(Create, { omit: ['nope'] });
  });

  it('validateExternalResponse returns the schema output', async () => {
    const charge = await validateExternalResponse('stripe', z.object({ id: z.string() }), {});
    expectTypeOf(charge).toEqualTypeOf<{ id: string }>();
  });
});

describe('outcomes and unknown keys', () => {
  it('narrows a result by status, and takes unknownKeys only where it applies', () => {
    const built = pipeline('p')
      .validate('parse', Request, { boundary: 'gateway', unknownKeys: 'reject' })
      .build();
    const result = built.runSync({});
    if (result.status === 'rejected') {
      expectTypeOf(result.stage).toEqualTypeOf<string>();
      expectTypeOf(result.error).toEqualTypeOf<FlowproofError>();
    }
    if (result.ok) expectTypeOf(result.value.userId).toEqualTypeOf<string>();
    // @ts-expect-error: unknownKeys is 'strip' or 'reject'
    pipeline('p').validate('parse', Request, { unknownKeys: 'keep' });
    // @ts-expect-error: a transform strips nothing, so it has no unknown-keys policy
    pipeline('p').transform('t', (v) => v, { unknownKeys: 'strip' });
  });
});
