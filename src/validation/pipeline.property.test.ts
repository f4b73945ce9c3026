import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { FlowproofError, isFlowproofError } from '../core/errors.js';
import { pipeline } from './index.js';
import { orderPipeline, validRequest } from './order-pipeline.fixture.js';

const stageNames = new Set(
  orderPipeline()
    .describe()
    .stages.map((stage) => stage.name),
);

/** Mostly `good`, now and then `bad`: most orders reach the later stages, some fail early. */
const mostly = <T, U>(good: fc.Arbitrary<T>, bad: fc.Arbitrary<U>) =>
  fc.oneof({ weight: 30, arbitrary: good }, { weight: 1, arbitrary: bad });

/** Rarely present: an extra key a schema would strip. */
const rarely = <T>(value: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 15, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: value });

const withRareKey = <T extends object>(base: fc.Arbitrary<T>, key: string) =>
  fc
    .tuple(base, rarely(fc.anything()))
    .map(([value, extra]) => (extra === undefined ? value : { ...value, [key]: extra }));

/** Orders that are valid, or wrong in a few places, so that every stage gets exercised. */
const nearlyValidOrder = withRareKey(
  fc.record(
    {
      userId: mostly(fc.string({ minLength: 1, maxLength: 64 }), fc.anything()),
      items: mostly(
        fc.array(
          withRareKey(
            fc.record(
              {
                sku: mostly(
                  fc.constantFrom('sku-001', 'SKU-002', 'Sku-003'),
                  fc.constantFrom('nope-9', ''),
                ),
                qty: mostly(
                  fc.integer({ min: 1, max: 1000 }),
                  fc.oneof(fc.double(), fc.anything()),
                ),
              },
              { noNullPrototype: true },
            ),
            'note',
          ),
          { minLength: 1, maxLength: 4 },
        ),
        fc.anything(),
      ),
      shipping: mostly(fc.constant(validRequest.shipping), fc.anything()),
      promoCode: mostly(fc.constantFrom('SAVE10', ' save10 ', 'NONE'), fc.anything()),
      requestedAt: mostly(
        fc
          .date({ noInvalidDate: true, min: new Date(0), max: new Date('2100-01-01') })
          .map((d) => d.toISOString()),
        fc.string(),
      ),
    },
    { requiredKeys: ['userId', 'items', 'shipping', 'requestedAt'], noNullPrototype: true },
  ),
  'extra',
);

/** Everything fast-check can make, exotic values included. */
const exotic = fc.anything({
  withBoxedValues: true,
  withMap: true,
  withSet: true,
  withNullPrototype: true,
  withBigInt: true,
  withDate: true,
  withTypedArray: true,
  withSparseArray: true,
  withObjectString: true,
});

const anyInput = fc.oneof(exotic, nearlyValidOrder);

/**
 * The error of a rejected run, what else the run threw, or its result. A stage's FlowproofError
 * is returned in the result, never thrown.
 */
function outcome(run: () => unknown): unknown {
  let result: unknown;
  try {
    result = run();
  } catch (error) {
    if (isFlowproofError(error)) throw new Error(`${error.code} was thrown, not returned`);
    return error;
  }
  const rejected = result as { status?: unknown; error?: unknown };
  return rejected.status === 'rejected' ? rejected.error : result;
}

describe('pipeline properties', () => {
  it('no stage escapes with anything but a FlowproofError, whatever the input', async () => {
    const built = orderPipeline();
    await fc.assert(
      fc.asyncProperty(anyInput, async (input) => {
        const result = await built.run(input as never).catch((error: unknown) => error);
        if (result instanceof Error || !(typeof result === 'object' && result && 'ok' in result)) {
          expect(result).toBeInstanceOf(FlowproofError);
        }
      }),
      { numRuns: 400 },
    );
  });

  it('every rejection names its stage and the path of every issue', async () => {
    const built = orderPipeline();
    await fc.assert(
      fc.asyncProperty(anyInput, async (input) => {
        const error = await built.run(input as never).then(
          () => undefined,
          (e: unknown) => e,
        );
        if (error === undefined) return;
        if (!isFlowproofError(error)) throw error;
        expect(error.details.pipeline).toBe('create-order');
        expect(stageNames.has(error.details.stage as string)).toBe(true);
        expect(typeof error.details.boundary).toBe('string');
        if (error.code === 'PIPELINE_REJECTED') {
          const issues = error.details.issues as { path: unknown; code: unknown }[];
          expect(issues.length).toBeGreaterThan(0);
          for (const issue of issues) {
            expect(Array.isArray(issue.path)).toBe(true);
            expect(typeof issue.code).toBe('string');
          }
        } else if (error.code === 'PIPELINE_FIELD_LOST') {
          expect((error.details.fields as string[]).length).toBeGreaterThan(0);
        } else {
          expect(error.code).toBe('PIPELINE_STAGE_FAILED');
        }
      }),
      { numRuns: 400 },
    );
  });

  it('never mutates its input', async () => {
    const built = orderPipeline();
    await fc.assert(
      fc.asyncProperty(nearlyValidOrder, async (input) => {
        const before = structuredClone(input);
        await built.run(input as never).catch(() => {});
        expect(input).toStrictEqual(before);
      }),
      { numRuns: 300 },
    );
  });

  it('wraps whatever user code throws, with the stage named and the cause kept', () => {
    fc.assert(
      fc.property(exotic, exotic, (input, thrown) => {
        const built = pipeline('p')
          .validate('parse', z.unknown())
          .transform('explode', () => {
            throw thrown;
          })
          .build();
        const error = outcome(() => built.runSync(input));
        expect(isFlowproofError(error)).toBe(true);
        const typed = error as FlowproofError;
        expect(typed.details.stage).toBe('explode');
        expect(typed.cause).toBe(thrown);
      }),
      { numRuns: 1000 },
    );
  });

  it('the field-loss check never fails with anything but a FlowproofError, whatever the shapes', () => {
    fc.assert(
      fc.property(exotic, exotic, (input, output) => {
        const built = pipeline('p')
          .transform('replace', () => output)
          .build();
        const result = outcome(() => built.runSync(input));
        if (result instanceof Error) {
          expect(isFlowproofError(result, 'PIPELINE_FIELD_LOST')).toBe(true);
        } else {
          expect(result).toMatchObject({ ok: true });
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('rejects exactly the keys a schema strips, each at its path', () => {
    const Known = z.object({ a: z.number(), b: z.string() });
    const built = pipeline('p').validate('parse', Known).build();
    fc.assert(
      fc.property(
        fc.integer(),
        fc.string(),
        fc.dictionary(
          fc.string({ minLength: 1 }).filter((key) => !['a', 'b', '__proto__'].includes(key)),
          fc.anything().filter((value) => value !== undefined),
        ),
        (a, b, extra) => {
          const error = outcome(() => built.runSync({ a, b, ...extra }));
          const expected = Object.keys(extra);
          if (expected.length === 0) expect(error).toMatchObject({ ok: true });
          else {
            expect(error).toMatchObject({ code: 'PIPELINE_REJECTED' });
            const issues = (error as FlowproofError).details.issues as { path: unknown }[];
            expect(issues.map((issue) => issue.path)).toEqual(expected.map((key) => [key]));
          }
        },
      ),
    );
  });
});
