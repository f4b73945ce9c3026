import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { isFlowproofError } from '../core/errors.js';
import { IntegrationResponseError, pipeline, validateExternalResponse } from './index.js';

const Charge = z.object({
  id: z.string().startsWith('ch_'),
  status: z.enum(['succeeded', 'pending', 'failed']),
  amount: z.int().nonnegative(),
});

/** The error `promise` rejects with; the schemas here type their output as `unknown`. */
async function rejection(promise: Promise<unknown>): Promise<IntegrationResponseError> {
  try {
    await promise;
  } catch (error) {
    return error as IntegrationResponseError;
  }
  throw new Error('expected a rejection');
}

describe('validateExternalResponse', () => {
  it('returns the typed, checked response', async () => {
    const charge = await validateExternalResponse('stripe', Charge, {
      id: 'ch_1',
      status: 'succeeded',
      amount: 1000,
      livemode: false,
    });
    expect(charge).toEqual({ id: 'ch_1', status: 'succeeded', amount: 1000 });
  });

  it('fails with INTEGRATION_RESPONSE_INVALID naming the source, every issue, and keeping the payload', async () => {
    const payload = { object: 'error', message: 'rate limited' };
    const error = await validateExternalResponse('stripe', Charge, payload).catch((e) => e);
    expect(error).toBeInstanceOf(IntegrationResponseError);
    expect(isFlowproofError(error, 'INTEGRATION_RESPONSE_INVALID')).toBe(true);
    expect(error.source).toBe('stripe');
    expect(error.payload).toBe(payload);
    expect(error.details).toMatchObject({ source: 'stripe', redacted: false });
    expect(error.details.issues.map((issue: { path: unknown }) => issue.path)).toEqual([
      ['id'],
      ['status'],
      ['amount'],
    ]);
    expect(error.message).toMatch(/^The response from stripe is invalid: id: /);
    // The payload never reaches logs through toJSON().
    expect(JSON.stringify(error)).not.toContain('rate limited');
  });

  it('keeps only what the redactor returns', async () => {
    const payload = { id: 'ch_1', status: 'refunded', amount: 5, card: '4242424242424242' };
    const error = await validateExternalResponse('stripe', Charge, payload, {
      redact: (p) => ({ ...(p as object), card: '[redacted]' }),
    }).catch((e) => e);
    expect(error.payload).toEqual({ ...payload, card: '[redacted]' });
    expect(error.details.redacted).toBe(true);
    const failing = await validateExternalResponse('stripe', Charge, payload, {
      redact: () => {
        throw new Error('bad redactor');
      },
    }).catch((e) => e);
    expect(failing.payload).toBeUndefined();
    expect(failing.details.redactionFailed).toBe(true);
  });

  it('awaits an async redactor, and never leaves its rejection unhandled', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const payload = { id: 'nope', card: '4242424242424242' };
      const masked = await validateExternalResponse('stripe', Charge, payload, {
        redact: async (p) => ({ ...(p as object), card: '[redacted]' }),
      }).catch((e) => e);
      expect(masked.payload).toEqual({ id: 'nope', card: '[redacted]' });
      const failing = await validateExternalResponse('stripe', Charge, payload, {
        redact: async () => {
          throw new Error('x');
        },
      }).catch((e) => e);
      expect(failing).toBeInstanceOf(IntegrationResponseError);
      expect(failing.payload).toBeUndefined();
      expect(failing.details).toMatchObject({ redacted: true, redactionFailed: true });
      await new Promise((resolve) => setTimeout(resolve, 10));
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    expect(unhandled).toEqual([]);
  });

  it('reports a validator or payload that throws as INTEGRATION_RESPONSE_INVALID, redacted', async () => {
    const boom = new Error('validator bug');
    const throwing = {
      '~standard': {
        version: 1 as const,
        vendor: 'custom',
        validate: (): never => {
          throw boom;
        },
      },
    };
    const payload = { card: '4242424242424242' };
    const error = await rejection(
      validateExternalResponse('payments', throwing, payload, { redact: () => '[redacted]' }),
    );
    expect(error).toBeInstanceOf(IntegrationResponseError);
    expect(isFlowproofError(error, 'INTEGRATION_RESPONSE_INVALID')).toBe(true);
    expect(error.source).toBe('payments');
    expect(error.cause).toBe(boom);
    expect(error.payload).toBe('[redacted]');
    expect(error.details).toMatchObject({ source: 'payments', validatorFailed: true });
    expect(error.details.issues).toEqual([
      { path: [], code: 'invalid', message: expect.stringContaining('threw') },
    ]);

    const rejecting = {
      '~standard': { ...throwing['~standard'], validate: () => Promise.reject(boom) },
    };
    const asyncError = await rejection(validateExternalResponse('payments', rejecting, payload));
    expect(asyncError).toBeInstanceOf(IntegrationResponseError);
    expect(asyncError.cause).toBe(boom);

    const getterError = new Error('getter');
    const hostile = Object.defineProperty({}, 'id', {
      enumerable: true,
      get() {
        throw getterError;
      },
    });
    const fromGetter = await validateExternalResponse('stripe', Charge, hostile, {
      redact: () => {
        throw new Error('cannot read it either');
      },
    }).catch((e) => e);
    expect(fromGetter).toBeInstanceOf(IntegrationResponseError);
    expect(fromGetter.cause).toBe(getterError);
    // Redaction failed too: the raw payload is never kept.
    expect(fromGetter.payload).toBeUndefined();
    expect(fromGetter.details).toMatchObject({ redactionFailed: true, validatorFailed: true });
  });

  it('checks its arguments', async () => {
    await expect(validateExternalResponse('', Charge, {})).rejects.toThrow(/source/);
    await expect(validateExternalResponse('x', {} as never, {})).rejects.toThrow(/Standard Schema/);
    await expect(validateExternalResponse('x', Charge, {}, { redact: 1 as never })).rejects.toThrow(
      /options.redact/,
    );
  });

  it('fits in an enrich stage, where the pipeline names the stage and keeps the code', async () => {
    const built = pipeline<{ orderId: string }>('pay')
      .enrich(
        'charge card',
        async (order) => ({
          ...order,
          charge: await validateExternalResponse('stripe', Charge, { id: 'nope' }),
        }),
        { boundary: 'external' },
      )
      .build();
    const result = await built.run({ orderId: 'o1' });
    if (result.status !== 'rejected') throw new Error('expected a rejection');
    const { error } = result;
    expect(error).toMatchObject({
      code: 'PIPELINE_STAGE_FAILED',
      details: {
        stage: 'charge card',
        boundary: 'external',
        causeCode: 'INTEGRATION_RESPONSE_INVALID',
      },
    });
    expect(error.cause).toBeInstanceOf(IntegrationResponseError);
  });
});
