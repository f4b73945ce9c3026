import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { describeValue, FlowproofError, isFlowproofError } from './errors.js';
import { assertOptionsObject } from './options.js';

/** A second copy of flowproof's modules, as the other build (ESM/CommonJS) loads them. */
async function freshCopy() {
  vi.resetModules();
  return {
    core: await import('./errors.js'),
    idempotency: await import('../idempotency/errors.js'),
  };
}

describe('FlowproofError across copies of flowproof', () => {
  it('passes instanceof whichever copy made it, subclasses included', async () => {
    const idempotency = await import('../idempotency/errors.js');
    const { core: copy, idempotency: copyIdempotency } = await freshCopy();
    expect(copy.FlowproofError).not.toBe(FlowproofError); // really another copy
    const foreign = new copy.FlowproofError('BACKEND_TIMEOUT', 'slow');
    expect(foreign).toBeInstanceOf(FlowproofError);
    expect(new FlowproofError('BACKEND_TIMEOUT', 'slow')).toBeInstanceOf(copy.FlowproofError);
    const inProgress = new copyIdempotency.IdempotencyInProgressError('busy', 50);
    expect(inProgress).toBeInstanceOf(idempotency.IdempotencyInProgressError);
    expect(inProgress).toBeInstanceOf(FlowproofError);
    expect(inProgress).not.toBeInstanceOf(idempotency.LockNotAcquiredError);
    expect(new FlowproofError('LOCK_NOT_ACQUIRED', 'x')).not.toBeInstanceOf(
      idempotency.LockNotAcquiredError,
    );
    expect(isFlowproofError(inProgress, 'IDEMPOTENCY_IN_PROGRESS')).toBe(true);
  });

  it('keeps instanceof of an application subclass to its own instances', () => {
    class AppError extends FlowproofError {}
    expect(new AppError('VALIDATION_FAILED', 'x')).toBeInstanceOf(FlowproofError);
    expect(new FlowproofError('VALIDATION_FAILED', 'x')).not.toBeInstanceOf(AppError);
  });
});

describe('isFlowproofError', () => {
  it('never throws, whatever it is given', () => {
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    expect(isFlowproofError(proxy)).toBe(false);
    expect(isFlowproofError(proxy, 'BACKEND_ERROR')).toBe(false);
    const hostile = new Proxy(
      {},
      {
        getPrototypeOf() {
          throw new Error('trap');
        },
        get() {
          throw new Error('trap');
        },
      },
    );
    expect(isFlowproofError(hostile)).toBe(false);
    fc.assert(
      fc.property(fc.anything({ withBigInt: true, withMap: true, withSet: true }), (value) => {
        expect(isFlowproofError(value)).toBe(false);
      }),
    );
  });
});

describe('FlowproofError details', () => {
  it('are JSON-safe: values JSON cannot hold are converted when the error is made', () => {
    const cycle: Record<string, unknown> = { name: 'loop' };
    cycle.self = cycle;
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    const error = new FlowproofError('BACKEND_ERROR', 'x', {
      details: {
        big: 10n ** 20n,
        when: new Date('2026-01-01T00:00:00Z'),
        invalid: new Date(Number.NaN),
        infinite: Number.POSITIVE_INFINITY,
        gone: undefined,
        fn: () => 1,
        list: [1n, undefined, Symbol('s')],
        cycle,
      },
    });
    expect(error.details).toEqual({
      big: '100000000000000000000',
      when: '2026-01-01T00:00:00.000Z',
      invalid: null,
      infinite: null,
      list: ['1', null, null],
      cycle: { name: 'loop', self: '[Circular]' },
    });
    expect(JSON.parse(JSON.stringify(error)).details).toEqual(error.details);
    // Details that cannot be read at all are replaced, not thrown about.
    const unreadable = new FlowproofError('BACKEND_ERROR', 'x', { details: { proxy } });
    expect(unreadable.details).toEqual({ unreadable: true });
    expect(() => JSON.stringify(unreadable)).not.toThrow();
  });

  it('never make JSON.stringify throw, and survive it unchanged when already JSON', () => {
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.string(),
          fc.anything({ withBigInt: true, withDate: true, withMap: true }),
        ),
        (details) => {
          const error = new FlowproofError('BACKEND_ERROR', 'x', { details });
          const json = JSON.stringify(error);
          expect(JSON.parse(json).details).toEqual(JSON.parse(JSON.stringify(error.details)));
        },
      ),
    );
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (details) => {
        const error = new FlowproofError('BACKEND_ERROR', 'x', { details });
        expect(JSON.parse(JSON.stringify(error)).details).toEqual(
          JSON.parse(JSON.stringify(details)),
        );
      }),
    );
  });
});

describe('describeValue', () => {
  it('says an object cannot be read instead of calling a revoked proxy an object', () => {
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    expect(describeValue(proxy)).toBe('an object that cannot be read');
    expect(() => assertOptionsObject(proxy, 'inputs')).toThrow(
      'inputs must be an object, got an object that cannot be read',
    );
    expect(describeValue({})).toBe('an object');
    expect(describeValue([])).toBe('an array');
    expect(describeValue(new Date())).toBe('a Date');
  });
});
