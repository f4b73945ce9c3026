import { describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { FlowproofError, isFlowproofError } from '../core/errors.js';
import { type DeadLetter, pipeline } from './index.js';
import { CreateOrderRequest, orderPipeline, validRequest } from './order-pipeline.fixture.js';
import { rejection, syncRejection } from './rejection.fixture.js';

describe('pipeline builder', () => {
  it('names the offending option', () => {
    expect(() => pipeline('')).toThrow(/name must be a non-empty string/);
    expect(() => pipeline('p', { logger: {} as never })).toThrow(/options.logger/);
    expect(() => pipeline('p', { onStage: 1 as never })).toThrow(/options.onStage/);
    expect(() => pipeline('p', { deadLetter: 'x' as never })).toThrow(/options.deadLetter/);
    const start = pipeline('p');
    expect(() => start.validate('v', {} as never)).toThrow(/Standard Schema/);
    expect(() => start.transform('t', 'x' as never)).toThrow(/fn of stage "t"/);
    expect(() => start.transform('t', (v) => v, { boundary: '' })).toThrow(/options.boundary/);
    expect(() => start.transform('t', (v) => v, { onError: 'ignore' as never })).toThrow(
      /options.onError of stage "t"/,
    );
    expect(() => start.transform('t', (v) => v, { drops: [''] })).toThrow(/options.drops/);
    expect(() => start.transform('t', (v) => v, { allowFieldLoss: 'yes' as never })).toThrow(
      /allowFieldLoss/,
    );
  });

  it('requires unique stage names', () => {
    const builder = pipeline('p').transform('same', (v) => v);
    expect(() => builder.transform('same', (v) => v)).toThrow(
      'pipeline "p" already has a stage named "same"; stage names must be unique',
    );
    expect(() => builder.validate('same', z.string())).toThrow(TypeError);
  });

  it('refuses to build an empty pipeline or one that dead-letters without a sink', () => {
    expect(() => pipeline('p').build()).toThrow(/no stages/);
    expect(() =>
      pipeline('p')
        .transform('t', (v) => v, { onError: 'dead-letter' })
        .build(),
    ).toThrow(/options.deadLetter is required: stage "t"/);
  });

  it('is immutable: a partial pipeline can be extended in two ways', async () => {
    const base = pipeline<number>('p').transform('double', (n) => n * 2);
    const plusOne = base.transform('plus one', (n) => n + 1).build();
    const squared = base.transform('square', (n) => n * n).build();
    expect(await plusOne.run(3)).toMatchObject({ value: 7 });
    expect(squared.runSync(3)).toMatchObject({ value: 36 });
    expect(plusOne.describe().stages.map((s) => s.name)).toEqual(['double', 'plus one']);
  });

  it('inherits the previous boundary and starts at service', () => {
    const built = pipeline('p')
      .transform('a', (v) => v)
      .transform('b', (v) => v, { boundary: 'gateway' })
      .transform('c', (v) => v)
      .transform('d', (v) => v, { boundary: 'partner-api' })
      .build();
    expect(built.describe().stages.map((s) => s.boundary)).toEqual([
      'service',
      'gateway',
      'gateway',
      'partner-api',
    ]);
    expect(built.describe().boundaries).toEqual(['service', 'gateway', 'partner-api']);
  });
});

describe('running the order-creation chain', () => {
  it('validates at the boundaries, passes typed data between stages and computes totals', async () => {
    const result = await orderPipeline().run(validRequest);
    expect(result).toMatchObject({ ok: true, status: 'valid', flags: [] });
    if (!result.ok) throw new Error('unreachable');
    expect(result.value.items).toEqual([
      { sku: 'SKU-001', qty: 1, name: 'Kettle', unitPrice: { amount: 2999, currency: 'EUR' } },
      { sku: 'SKU-003', qty: 4, name: 'Mug', unitPrice: { amount: 650, currency: 'EUR' } },
    ]);
    expect(result.value.requestedAt).toBe('2026-03-01T09:30:00.000Z');
    expect(result.value.shipping.country).toBe('GB');
    expect(result.value.totals).toEqual({
      subtotal: 5599,
      discount: 560,
      total: 5039,
      currency: 'EUR',
    });
  });

  it('runs synchronous stages synchronously (runSync, and run() before its first await)', () => {
    const seen: string[] = [];
    const built = pipeline<number>('p')
      .transform('a', (n) => {
        seen.push('a');
        return n + 1;
      })
      .transform('b', (n) => {
        seen.push('b');
        return n * 10;
      })
      .build();
    expect(built.runSync(1)).toEqual({ ok: true, status: 'valid', value: 20, flags: [] });
    seen.length = 0;
    const pending = built.run(1);
    expect(seen).toEqual(['a', 'b']);
    return expect(pending).resolves.toMatchObject({ value: 20 });
  });

  it('rejects with a typed error naming pipeline, stage, boundary and every issue', async () => {
    const error = await rejection(
      orderPipeline().run({
        ...validRequest,
        items: [{ sku: 'x', qty: 0 }],
        requestedAt: '2026-03-01T10:30:00',
      }),
    );
    expect(error.code).toBe('PIPELINE_REJECTED');
    expect(error.details).toMatchObject({
      pipeline: 'create-order',
      stage: 'parse request',
      boundary: 'gateway',
    });
    const issues = error.details.issues as { path: unknown[]; code: string; message: string }[];
    expect(issues.map((issue) => issue.path)).toEqual([
      ['items', 0, 'sku'],
      ['items', 0, 'qty'],
      ['requestedAt'],
    ]);
    expect(issues.every((issue) => issue.code.length > 0 && issue.message.length > 0)).toBe(true);
    expect(error.message).toMatch(/^Rejected at pipeline "create-order", stage "parse request"/);
  });

  it('turns a VALIDATION_FAILED thrown by a stage into a rejection at that stage', async () => {
    const error = await rejection(
      orderPipeline().run({ ...validRequest, items: [{ sku: 'SKU-999', qty: 1 }] }),
    );
    expect(error).toMatchObject({
      code: 'PIPELINE_REJECTED',
      details: {
        stage: 'add product details',
        boundary: 'service',
        issues: [{ path: ['items', 0, 'sku'], code: 'unknown_sku', message: 'Unknown SKU' }],
      },
    });
    expect(isFlowproofError(error.cause, 'VALIDATION_FAILED')).toBe(true);
  });

  it('wraps errors thrown by user code, keeping the cause and naming the stage', async () => {
    const boom = new RangeError('catalog offline');
    const built = pipeline('p')
      .transform('ok', (v) => v)
      .enrich('lookup', async () => {
        throw boom;
      })
      .build();
    const error = await rejection(built.run({ a: 1 }));
    expect(error).toMatchObject({
      code: 'PIPELINE_STAGE_FAILED',
      details: { pipeline: 'p', stage: 'lookup', boundary: 'service' },
    });
    expect(error.cause).toBe(boom);
    expect(error.message).toContain('catalog offline');

    const inner = new FlowproofError('BACKEND_TIMEOUT', 'slow');
    const sync = pipeline('q')
      .transform('t', () => {
        throw inner;
      })
      .build();
    expect(syncRejection(() => sync.runSync(1))).toMatchObject({
      code: 'PIPELINE_STAGE_FAILED',
      details: { stage: 't', causeCode: 'BACKEND_TIMEOUT' },
      cause: inner,
    });
    const weird = pipeline('r')
      .transform('t', () => {
        throw 'a string';
      })
      .build();
    expect(syncRejection(() => weird.runSync(1))).toMatchObject({ code: 'PIPELINE_STAGE_FAILED' });
  });

  it('wraps thrown values that cannot even be turned into a string', () => {
    const built = pipeline('p')
      .transform('t', () => {
        throw { toString: 0 };
      })
      .build();
    expect(syncRejection(() => built.runSync(1))).toMatchObject({
      code: 'PIPELINE_STAGE_FAILED',
      message: expect.stringContaining('a thrown value (an object)'),
    });
  });

  it('treats a VALIDATION_FAILED with malformed issues as a stage failure', () => {
    const built = pipeline('p')
      .transform('t', () => {
        throw new FlowproofError('VALIDATION_FAILED', 'bad', { details: { issues: [1] } });
      })
      .build();
    expect(syncRejection(() => built.runSync(1))).toMatchObject({ code: 'PIPELINE_STAGE_FAILED' });
  });

  it('wraps a getter that throws while the field-loss check reads the input', () => {
    const input = {
      get secret(): string {
        throw new Error('no access');
      },
    };
    const built = pipeline<typeof input>('p')
      .transform('copy', () => ({ other: 1 }))
      .build();
    expect(syncRejection(() => built.runSync(input))).toMatchObject({
      code: 'PIPELINE_STAGE_FAILED',
      details: { stage: 'copy', during: 'field-loss check' },
    });
  });

  it('runSync refuses asynchronous stages with a TypeError naming the stage', () => {
    const built = pipeline('p')
      .transform('sync', (v) => v)
      .enrich('async', async (v) => v)
      .build();
    expect(() => built.runSync(1)).toThrow(/stage "async": the stage returned a promise/);
    const asyncSchema = z.string().refine(async (s) => s.length > 0);
    const validating = pipeline('v').validate('check', asyncSchema).build();
    expect(() => validating.runSync('x')).toThrow(/stage "check"/);
    return expect(validating.run('x')).resolves.toMatchObject({ value: 'x' });
  });

  it('never mutates its input', async () => {
    const input = structuredClone(validRequest);
    await orderPipeline().run(input);
    expect(input).toEqual(validRequest);
  });

  it('cancels between stages with the signal and hands it to stage functions', async () => {
    const controller = new AbortController();
    const seen: (AbortSignal | undefined)[] = [];
    const built = pipeline('p')
      .enrich('first', async (v, context) => {
        seen.push(context.signal);
        controller.abort(new Error('stop'));
        return v;
      })
      .transform('second', (v) => v)
      .build();
    await expect(built.run(1, { signal: controller.signal })).rejects.toThrow('stop');
    expect(seen).toEqual([controller.signal]);
    await expect(built.run(1, { signal: 'x' as never })).rejects.toThrow(/options.signal/);
  });
});

describe('error policies', () => {
  it('fallback: continues with the default value and flags the record for review', async () => {
    const built = pipeline<{ state: string; subtotal: number }>('tax')
      .transform(
        'calculate tax',
        (order) => {
          if (order.state === 'XX') throw new Error('no rate for XX');
          return { ...order, taxRate: 0.08 };
        },
        { onError: { fallback: ({ value }) => ({ ...value, taxRate: 0.1 }) } },
      )
      .transform('total', (order) => ({ ...order, total: order.subtotal * (1 + order.taxRate) }))
      .build();
    expect(await built.run({ state: 'CA', subtotal: 100 })).toMatchObject({
      status: 'valid',
      value: { taxRate: 0.08 },
    });
    const flagged = await built.run({ state: 'XX', subtotal: 100 });
    expect(flagged).toMatchObject({ ok: true, status: 'flagged', value: { taxRate: 0.1 } });
    expect(flagged.flags).toHaveLength(1);
    expect(flagged.flags[0]).toMatchObject({ stage: 'calculate tax', boundary: 'service' });
    expect(flagged.flags[0]?.error.code).toBe('PIPELINE_STAGE_FAILED');
  });

  it('fallback: a plain value, an async fallback, and a failing fallback', async () => {
    const withValue = pipeline('p')
      .validate('parse', z.number(), { onError: { fallback: 0 } })
      .build();
    expect(withValue.runSync('nope')).toMatchObject({ status: 'flagged', value: 0 });
    expect(withValue.runSync('nope').flags[0]?.error.code).toBe('PIPELINE_REJECTED');

    const asyncFallback = pipeline('p')
      .validate('parse', z.number(), { onError: { fallback: async () => -1 } })
      .build();
    await expect(asyncFallback.run('nope')).resolves.toMatchObject({ value: -1 });
    expect(() => asyncFallback.runSync('nope')).toThrow(/the fallback returned a promise/);

    const broken = pipeline('p')
      .validate('parse', z.number(), {
        onError: {
          fallback: () => {
            throw new Error('no default either');
          },
        },
      })
      .build();
    expect(syncRejection(() => broken.runSync('nope'))).toMatchObject({
      code: 'PIPELINE_STAGE_FAILED',
      details: { stage: 'parse', during: 'fallback' },
    });
  });

  it('dead-letter: the sink gets the record and the error; the run reports it', async () => {
    const letters: DeadLetter[] = [];
    const built = pipeline<string>('import', { deadLetter: (letter) => void letters.push(letter) })
      .transform('upper', (s) => s.toUpperCase())
      .validate('short', z.string().max(3), { onError: 'dead-letter', boundary: 'database' })
      .build();
    expect(built.runSync('abc')).toMatchObject({ ok: true, value: 'ABC' });
    const result = await built.run('abcdef');
    expect(result).toMatchObject({ ok: false, status: 'dead-lettered', stage: 'short' });
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({
      pipeline: 'import',
      stage: 'short',
      boundary: 'database',
      record: 'abcdef',
      value: 'ABCDEF',
    });
    expect(letters[0]?.error.code).toBe('PIPELINE_REJECTED');
  });

  it('dead-letter: a failing sink is reported, never swallowed; async sinks are awaited', async () => {
    const sinkError = new Error('queue down');
    const failing = pipeline('p', {
      deadLetter: () => {
        throw sinkError;
      },
    })
      .validate('n', z.number(), { onError: 'dead-letter' })
      .build();
    const error = await rejection(failing.run('x'));
    expect(error).toMatchObject({
      code: 'PIPELINE_DEAD_LETTER_FAILED',
      details: { stage: 'n', originalCode: 'PIPELINE_REJECTED' },
      cause: sinkError,
    });
    const acknowledged = vi.fn();
    const asyncSink = pipeline('p', {
      deadLetter: async () => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        acknowledged();
      },
    })
      .validate('n', z.number(), { onError: 'dead-letter' })
      .build();
    await expect(asyncSink.run('x')).resolves.toMatchObject({ status: 'dead-lettered' });
    expect(acknowledged).toHaveBeenCalledOnce();
    expect(() => asyncSink.runSync('x')).toThrow(/dead-letter sink returned a promise/);
    const rejecting = pipeline('p', { deadLetter: async () => Promise.reject(sinkError) })
      .validate('n', z.number(), { onError: 'dead-letter' })
      .build();
    expect(await rejection(rejecting.run('x'))).toMatchObject({
      code: 'PIPELINE_DEAD_LETTER_FAILED',
    });
  });
});

describe('field-loss detection', () => {
  it('rejects keys a zod object strips at a trusted boundary, naming each with its path', () => {
    const built = pipeline('p')
      .validate('parse', z.object({ amount: z.number() }))
      .build();
    const error = syncRejection(() => built.runSync({ amount: 10, metadata: { orderId: '1' } }));
    expect(error).toMatchObject({
      code: 'PIPELINE_REJECTED',
      details: {
        pipeline: 'p',
        stage: 'parse',
        boundary: 'service',
        issues: [{ path: ['metadata'], code: 'unrecognized_keys' }],
      },
    });
    expect(error.message).toContain('"metadata"');
  });

  it("strips a client's extra field at an untrusted boundary: a new client never fails the run", () => {
    const Request = z.object({ amount: z.number(), shipping: z.object({ city: z.string() }) });
    for (const boundary of ['client', 'gateway', 'external']) {
      const built = pipeline('p').validate('parse', Request, { boundary }).build();
      const sent = { amount: 1, clientVersion: '2', shipping: { city: 'Oslo', floor: 3 } };
      expect(built.runSync(sent), boundary).toEqual({
        ok: true,
        status: 'valid',
        value: { amount: 1, shipping: { city: 'Oslo' } },
        flags: [],
      });
    }
    // The policy is an option: strict at the gateway, lenient inside.
    const strict = pipeline('p')
      .validate('parse', Request, { boundary: 'gateway', unknownKeys: 'reject' })
      .build();
    expect(
      syncRejection(() =>
        strict.runSync({ amount: 1, clientVersion: '2', shipping: { city: 'x' } }),
      ).details.issues,
    ).toEqual([
      { path: ['clientVersion'], code: 'unrecognized_keys', message: expect.any(String) },
    ]);
    const lenient = pipeline('p').validate('parse', Request, { unknownKeys: 'strip' }).build();
    expect(lenient.runSync({ amount: 1, extra: true, shipping: { city: 'x' } }).ok).toBe(true);
  });

  it('reports a field the schema declares and still loses as a lost field, at any boundary', () => {
    const built = pipeline('p')
      .validate(
        'parse',
        z.object({ amount: z.number(), note: z.string() }).transform(({ amount }) => ({ amount })),
        { boundary: 'gateway' },
      )
      .build();
    expect(syncRejection(() => built.runSync({ amount: 1, note: 'x' }))).toMatchObject({
      code: 'PIPELINE_FIELD_LOST',
      details: { fields: ['note'] },
    });
    const forgotten = pipeline('p')
      .validate(
        'parse',
        z.object({ amount: z.number() }).transform(() => undefined),
        {
          boundary: 'gateway',
        },
      )
      .build();
    expect(syncRejection(() => forgotten.runSync({ amount: 1 })).details.fields).toEqual([
      'amount',
    ]);
  });

  it('refuses an unknown key policy that is not strip or reject, and on into stages', () => {
    const start = pipeline('p');
    expect(() => start.validate('v', z.object({}), { unknownKeys: 'keep' as never })).toThrow(
      /options\.unknownKeys of stage "v" must be 'strip' or 'reject'/,
    );
    expect(() =>
      start.validate('v', z.object({}), { into: 'x', unknownKeys: 'strip' } as never),
    ).toThrow(/unknown option stage "v" options\.unknownKeys/);
    // allowFieldLoss compares nothing, so it could only strip: a policy beside it is a mistake.
    expect(() =>
      start.validate('v', z.object({}), { allowFieldLoss: true, unknownKeys: 'reject' }),
    ).toThrow(/options\.unknownKeys of stage "v" cannot be combined with allowFieldLoss: true/);
    expect(
      start
        .validate('v', z.object({ a: z.number() }), { allowFieldLoss: true })
        .build()
        .describe().stages[0]?.unknownKeys,
    ).toBe('strip');
  });

  it("catches the reference's payment mapper that forgets metadata", () => {
    const built = pipeline<{ amount: number; currency: string; metadata: object }>('payments')
      .transform('to payment row', (data) => ({ amount: data.amount, currency: data.currency }))
      .build();
    const error = syncRejection(() =>
      built.runSync({ amount: 10.99, currency: 'USD', metadata: { order_id: '123' } }),
    );
    expect(error.details.fields).toEqual(['metadata']);
  });

  it('sees nested objects and array elements', () => {
    const built = pipeline('p')
      .validate(
        'parse',
        z.object({
          meta: z.object({ source: z.string() }),
          items: z.array(z.object({ sku: z.string() })),
        }),
      )
      .build();
    const input = {
      meta: { source: 'web', campaign: 'spring' },
      items: [{ sku: 'a' }, { sku: 'b', note: 'gift' }, { sku: 'c', note: 'x' }],
    };
    expect(
      syncRejection(() => built.runSync(input)).details.issues as { path: unknown }[],
    ).toMatchObject([
      { path: ['meta', 'campaign'] },
      { path: ['items', 1, 'note'] },
      { path: ['items', 2, 'note'] },
    ]);
    const mapper = pipeline<typeof input>('p')
      .transform('map', (v) => ({
        meta: { source: v.meta.source },
        items: v.items.map((item) => ({ sku: item.sku })),
      }))
      .build();
    expect(syncRejection(() => mapper.runSync(input)).details.fields).toEqual([
      'meta.campaign',
      'items.*.note',
    ]);
  });

  it('lets a stage declare what it drops, or opt out', () => {
    const input = { user: 'ada', password: 'hunter2', meta: { ip: '1.2.3.4', ua: 'x' } };
    const declared = pipeline<typeof input>('p')
      .transform('strip secrets', ({ password: _, ...rest }) => ({ ...rest, meta: { ua: 'x' } }), {
        drops: ['password', 'meta.ip'],
      })
      .build();
    expect(declared.runSync(input)).toMatchObject({ value: { user: 'ada', meta: { ua: 'x' } } });
    const relaxed = pipeline<typeof input>('p')
      .transform('to row', (v) => ({ id: v.user }), { allowFieldLoss: true })
      .build();
    expect(relaxed.runSync(input)).toMatchObject({ value: { id: 'ada' } });
    const stripping = pipeline('p')
      .validate('parse', z.object({ a: z.number() }), { allowFieldLoss: true })
      .build();
    expect(stripping.runSync({ a: 1, b: 2 })).toMatchObject({ value: { a: 1 } });
  });

  it('counts a value set to undefined as lost, but not a key that was undefined already', () => {
    const built = pipeline<{ a?: number | undefined; b?: number }>('p')
      .transform('t', (v) => ({ ...v, a: undefined }))
      .build();
    expect(syncRejection(() => built.runSync({ a: 1 })).details.fields).toEqual(['a']);
    expect(built.runSync({ a: undefined, b: 2 }).ok).toBe(true);
  });

  it('ignores values without fields and values passed through by reference', () => {
    const built = pipeline<unknown>('p')
      .transform('to string', (v) => String(v))
      .build();
    expect(built.runSync(5)).toMatchObject({ value: '5' });
    expect(built.runSync({})).toMatchObject({ value: '[object Object]' });
    // An object whose fields become a string has lost them.
    expect(syncRejection(() => built.runSync({ a: 1 })).details.fields).toEqual(['a']);
    const nested = { deep: { a: 1 } };
    const passthrough = pipeline<typeof nested>('p')
      .transform('add', (v) => ({ ...v, extra: true }))
      .build();
    expect(passthrough.runSync(nested).ok).toBe(true);
  });

  it('applies the stage error policy to a field loss', () => {
    const built = pipeline<{ a: number; b: number }>('p')
      .transform('map', ({ a }) => ({ a }), {
        onError: { fallback: ({ value }) => value },
      })
      .build();
    const result = built.runSync({ a: 1, b: 2 });
    expect(result).toMatchObject({ status: 'flagged', value: { a: 1, b: 2 } });
    expect(result.flags[0]?.error.code).toBe('PIPELINE_FIELD_LOST');
  });
});

describe('validating one part of the value (at, into)', () => {
  const Priced = z.object({ sku: z.string(), price: z.int().positive() });

  it('at: validates only that field, in place, and prefixes issue paths with it', () => {
    const built = pipeline<{ user: string; lines: unknown[] }>('p')
      .validate('check lines', z.array(Priced), { at: 'lines', boundary: 'external' })
      .build();
    const input = { user: 'not re-parsed', lines: [{ sku: 'a', price: 5 }] };
    const result = built.runSync(input);
    expect(result).toMatchObject({
      value: { user: 'not re-parsed', lines: [{ sku: 'a', price: 5 }] },
    });
    if (result.ok) expect(result.value.lines[0]?.price).toBe(5);
    const error = syncRejection(() =>
      built.runSync({ user: 'u', lines: [{ sku: 'a', price: 0 }] }),
    );
    expect(error.details).toMatchObject({
      stage: 'check lines',
      issues: [{ path: ['lines', 0, 'price'], code: 'too_small' }],
    });
    expect(input.lines[0]).toEqual({ sku: 'a', price: 5 });
  });

  it('at: a key the schema strips inside the field is an unknown key, with its full path', () => {
    const built = pipeline<{ lines: unknown[] }>('p')
      .validate('check lines', z.array(Priced), { at: 'lines' })
      .build();
    const error = syncRejection(() =>
      built.runSync({ lines: [{ sku: 'a', price: 5, note: 'gift wrap' }] }),
    );
    expect(error).toMatchObject({
      code: 'PIPELINE_REJECTED',
      details: { issues: [{ path: ['lines', 0, 'note'], code: 'unrecognized_keys' }] },
    });
  });

  it('into: derives a validated field and keeps every field of the value', () => {
    const Totals = z
      .object({ lines: z.array(Priced) })
      .transform(({ lines }) => ({ total: lines.reduce((sum, line) => sum + line.price, 0) }))
      .pipe(z.object({ total: z.int().nonnegative() }));
    const built = pipeline<{ user: string; lines: { sku: string; price: number }[] }>('p')
      .validate('compute totals', Totals, { into: 'totals', boundary: 'database' })
      .build();
    const result = built.runSync({
      user: 'u',
      lines: [
        { sku: 'a', price: 5 },
        { sku: 'b', price: 7 },
      ],
    });
    expect(result).toMatchObject({ value: { user: 'u', lines: [{}, {}], totals: { total: 12 } } });
    const description = built.describe().stages[0];
    expect(description).toMatchObject({ into: 'totals', at: undefined });
    expect(built.toMarkdown()).toContain("The schema's output is written into `totals`");
  });

  it('rejects a value that is not an object, and checks the options', () => {
    const built = pipeline('p')
      .validate('check', z.number(), { into: 'n' as never })
      .build();
    expect(syncRejection(() => built.runSync(3))).toMatchObject({
      code: 'PIPELINE_REJECTED',
      details: { issues: [{ path: [], code: 'invalid_type' }] },
    });
    const start = pipeline<{ a: number }>('p');
    expect(() => start.validate('v', z.number(), { at: '' as never })).toThrow(/options.at/);
    expect(() => start.validate('v', z.number(), { at: 'a', into: 'b' } as never)).toThrow(
      /cannot be combined/,
    );
  });

  it('describe() keeps the field sets across at and into', () => {
    const description = pipeline('p')
      .validate('parse', z.object({ lines: z.array(Priced), user: z.string() }))
      .validate('check lines', z.array(Priced), { at: 'lines' })
      .validate('totals', z.object({ lines: z.array(Priced) }), { into: 'totals' })
      .build()
      .describe();
    expect(description.stages.map((stage) => stage.fieldsOut)).toEqual([
      ['lines', 'user'],
      ['lines', 'user'],
      ['lines', 'user', 'totals'],
    ]);
  });
});

describe('self-description', () => {
  it('describe() lists stages, boundaries, policies, schema fields and field sets', () => {
    const description = orderPipeline().describe();
    expect(description.name).toBe('create-order');
    expect(description.boundaries).toEqual(['gateway', 'service', 'database']);
    const [parse, normalize, enrich, totals] = description.stages;
    expect(parse).toMatchObject({
      name: 'parse request',
      kind: 'validate',
      boundary: 'gateway',
      onError: 'reject',
      checksFieldLoss: true,
      fieldsOut: ['userId', 'items', 'shipping', 'promoCode', 'requestedAt'],
      schema: { vendor: 'zod' },
    });
    const paths = parse?.schema?.fields?.map((f) => f.path);
    expect(paths).toContain('items[].qty');
    expect(paths).toContain('shipping.country');
    expect(parse?.schema?.fields?.find((f) => f.path === 'items[].qty')?.rules).toEqual([
      'integer',
      'required',
      '≥ 1',
      '≤ 1000',
    ]);
    expect(parse?.schema?.fields?.find((f) => f.path === 'promoCode')).toMatchObject({
      required: false,
      rules: ['string', 'optional', 'at most 32 characters'],
    });
    expect(normalize).toMatchObject({ kind: 'transform', boundary: 'service' });
    expect(normalize?.fieldsIn).toEqual(parse?.fieldsOut);
    expect(enrich).toMatchObject({ kind: 'enrich', description: expect.stringContaining('SKU') });
    expect(totals?.fieldsOut).toContain('totals');
  });

  it('toMermaid() renders the flow left to right with one subgraph per boundary', () => {
    expect(orderPipeline().toMermaid()).toMatchInlineSnapshot(`
      "flowchart LR
        input(("input"))
        subgraph b0["gateway boundary"]
          s0{{"validate: parse request"}}
        end
        subgraph b1["service boundary"]
          s1["transform: normalize"]
          s2(["enrich: add product details"])
        end
        subgraph b2["database boundary"]
          s3{{"validate: compute totals"}}
        end
        output(("output"))
        input --> s0 --> s1 --> s2 --> s3 --> output
        s0 -.->|reject| rejected
        s1 -.->|reject| rejected
        s2 -.->|reject| rejected
        s3 -.->|reject| rejected
        rejected(["rejected: PIPELINE_REJECTED"])
      "
    `);
  });

  it('toMermaid() shows fallback and dead-letter paths and escapes labels', () => {
    const diagram = pipeline('p', { deadLetter: () => {} })
      .transform('say "hi"', (v) => v, { onError: { fallback: 0 } })
      .transform('park', (v) => v, { onError: 'dead-letter' })
      .build()
      .toMermaid();
    expect(diagram).toContain('s0["transform: say #quot;hi#quot;"]');
    expect(diagram).toContain('s0 -.->|fallback, flag for review| s1');
    expect(diagram).toContain('s1 -.->|dead-letter| deadletters');
    expect(diagram).toContain('deadletters[("dead letters")]');
    expect(diagram).not.toContain('rejected');
  });

  it('toMarkdown() documents each step as Input / Transformation / Output / Validation / Error handling', () => {
    const markdown = pipeline('tax', { deadLetter: () => {} })
      .validate('parse', z.object({ subtotal: z.number().positive() }), { boundary: 'gateway' })
      .transform('calculate tax', (v) => ({ ...v, tax: v.subtotal * 0.1 }), {
        adds: ['tax'],
        onError: { fallback: ({ value }) => ({ ...value, tax: 0 }) },
        docs: {
          transformation: ['Look up the rate for the shipping state', 'Multiply'],
          errorHandling: 'Tax calculation fails: log, use the default rate, flag for review',
        },
      })
      .build()
      .toMarkdown();
    expect(markdown).toContain('## Pipeline: tax');
    expect(markdown).toContain('```mermaid\nflowchart LR');
    expect(markdown).toContain('### Step 1: parse');
    expect(markdown).toContain('  - `subtotal`: number, required, > 0');
    expect(markdown).toContain('### Step 2: calculate tax');
    expect(markdown).toContain(
      '**Transformation**:\n\n- Look up the rate for the shipping state\n- Multiply',
    );
    expect(markdown).toContain('**Output**: Fields `subtotal`, `tax`; adds `tax`.');
    expect(markdown).toContain('- Tax calculation fails: log, use the default rate');
    expect(markdown).toContain('use the fallback value and flag the record for review');
    for (const title of ['Input', 'Transformation', 'Output', 'Validation', 'Error handling']) {
      expect(markdown.split(`**${title}**`).length - 1).toBe(2);
    }
  });

  it('describes validators that cannot describe themselves', () => {
    const opaque = {
      '~standard': {
        version: 1 as const,
        vendor: 'custom',
        validate: (value: unknown) => ({ value }),
      },
    };
    const description = pipeline('p').validate('custom', opaque).build().describe();
    expect(description.stages[0]?.schema).toEqual({ vendor: 'custom', fields: undefined });
    expect(pipeline('p').validate('custom', opaque).build().toMarkdown()).toContain(
      'Schema (custom); its rules cannot be listed.',
    );
  });

  it('the request schema accepts what the docs say', () => {
    expect(CreateOrderRequest.safeParse(validRequest).success).toBe(true);
  });
});

describe('one way to learn the outcome: every run resolves to a result', () => {
  const Line = z.object({ sku: z.string(), qty: z.int().positive() });

  it('a rejection is a result naming the stage, with earlier fallbacks, from run and runSync', async () => {
    const built = pipeline('p')
      .transform('default qty', (v: unknown) => v, {
        onError: { fallback: () => ({ sku: 'x', qty: 0 }) },
      })
      .transform(
        'explode',
        (): unknown => {
          throw new Error('boom');
        },
        { onError: { fallback: ({ value }) => value } },
      )
      .validate('check', Line)
      .build();
    const sync = built.runSync({ sku: 'a', qty: 0 });
    expect(sync).toMatchObject({
      ok: false,
      status: 'rejected',
      stage: 'check',
      error: { code: 'PIPELINE_REJECTED', details: { stage: 'check' } },
      flags: [{ stage: 'explode', error: { code: 'PIPELINE_STAGE_FAILED' } }],
    });
    expect(await built.run({ sku: 'a', qty: 0 })).toEqual(sync);
  });

  it('a failing dead-letter sink is a rejected result too, synchronous or not', async () => {
    for (const deadLetter of [
      () => {
        throw new Error('queue down');
      },
      async () => {
        throw new Error('queue down');
      },
    ]) {
      const built = pipeline('p', { deadLetter })
        .validate('check', Line, { onError: 'dead-letter' })
        .build();
      expect(await built.run({ sku: 'a', qty: 0 })).toMatchObject({
        ok: false,
        status: 'rejected',
        stage: 'check',
        error: {
          code: 'PIPELINE_DEAD_LETTER_FAILED',
          details: { originalCode: 'PIPELINE_REJECTED' },
        },
      });
    }
  });

  it('batches and streams report the same result per item as run()', async () => {
    const built = pipeline('p').validate('check', Line).build();
    const items = [
      { sku: 'a', qty: 1 },
      { sku: 'b', qty: 0 },
    ];
    const report = await built.runBatch(items, { keep: 'all' });
    expect(report.outcomes).toEqual([
      { index: 0, input: items[0], ...(await built.run(items[0])) },
      { index: 1, input: items[1], ...(await built.run(items[1])) },
    ]);
    const streamed = [];
    for await (const outcome of built.stream(items)) streamed.push(outcome);
    expect(streamed.sort((a, b) => a.index - b.index)).toEqual(report.outcomes);
  });

  it('still throws programmer mistakes and aborts', async () => {
    const asyncStage = pipeline('p')
      .enrich('e', async (v: unknown) => v)
      .build();
    expect(() => asyncStage.runSync(1)).toThrow(TypeError);
    const controller = new AbortController();
    controller.abort(new Error('stop'));
    await expect(asyncStage.run(1, { signal: controller.signal })).rejects.toThrow('stop');
  });
});
