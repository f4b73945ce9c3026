/**
 * Every public entry of the core answers odd arguments (wrong types, revoked proxies, objects
 * whose getters throw) with its own `TypeError` naming the argument, or a `FlowproofError`; never
 * with an error the engine raised from deep inside (`Cannot read properties of…`,
 * `…is not a function`, `Cannot perform 'get' on a proxy that has been revoked`).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { canonicalJson, fingerprint } from '../idempotency/fingerprint.js';
import {
  bindContext,
  configureOpenTelemetry,
  createManualClock,
  FlowproofError,
  getContext,
  hasUtcOffset,
  isFlowproofError,
  isId,
  isStandardSchema,
  parseInstant,
  parseWithSchema,
  restoreContext,
  runWithContext,
  serializeContext,
  toUtcIso,
  utcDateTime,
  validateWithSchema,
  withSpan,
} from '../index.js';

function revokedProxy(): object {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  return proxy;
}

function hostileProxy(): object {
  const trap = () => {
    throw new Error('hostile trap');
  };
  return new Proxy({}, { get: trap, getPrototypeOf: trap, ownKeys: trap, has: trap });
}

/**
 * Odd values: anything fast-check makes, plus proxies that cannot be read. Each is made inside the
 * property (fast-check itself would trip over the proxies), so the arbitrary yields makers.
 */
const odd = fc.oneof(
  fc
    .anything({ withBigInt: true, withDate: true, withMap: true, withSet: true })
    .map((value) => () => value),
  fc.constantFrom(
    revokedProxy,
    hostileProxy,
    () => Symbol('s'),
    () => () => 1,
    () => new Date(Number.NaN),
    () => ({ '~standard': revokedProxy() }),
  ),
);

/** True for an error raised on purpose by flowproof (or a TypeError it phrased itself). */
function isDeliberate(error: unknown): boolean {
  if (error instanceof FlowproofError) return true;
  if (!(error instanceof TypeError)) return false;
  return !/Cannot (read|set|perform|convert|destructure|use 'in')|is not a function|is not iterable|is not a constructor|has been revoked|toISOString|Invalid time value/.test(
    error.message,
  );
}

async function settle(call: () => unknown): Promise<unknown> {
  try {
    await call();
    return undefined;
  } catch (error) {
    return error;
  }
}

const schema = z.object({ id: z.string() });

const entries: Record<string, (a: unknown, b: unknown) => unknown> = {
  createManualClock: (a) => createManualClock(a as never),
  'createManualClock().set': (a) => createManualClock().set(a as never),
  'createManualClock().advance': (a) => createManualClock().advance(a as never),
  hasUtcOffset: (a) => hasUtcOffset(a as never),
  parseInstant: (a, b) => parseInstant(a as never, typeof b === 'string' ? b : undefined),
  toUtcIso: (a) => toUtcIso(a as never),
  bindContext: (a) => bindContext(a as never),
  restoreContext: (a, b) => restoreContext(a as never, b as never),
  'restoreContext(options)': (a) => restoreContext({}, a as never),
  runWithContext: (a) => runWithContext(a as never, () => getContext()),
  'runWithContext(fn)': (a) => runWithContext({}, a as never),
  serializeContext: (a) => serializeContext(a as never),
  FlowproofError: (a, b) =>
    JSON.stringify(new FlowproofError('BACKEND_ERROR', 'x', { details: { a, b } })),
  isFlowproofError: (a, b) => isFlowproofError(a, b as never),
  isId: (a) => isId(a),
  configureOpenTelemetry: (a) => {
    try {
      configureOpenTelemetry(a);
    } finally {
      configureOpenTelemetry(undefined);
    }
  },
  'utcDateTime().safeParse': (a) => utcDateTime().safeParse(a),
  isStandardSchema: (a) => isStandardSchema(a),
  parseWithSchema: (a, b) => parseWithSchema(a as never, b),
  'parseWithSchema(value)': (a) => parseWithSchema(schema, a),
  'parseWithSchema(what)': (a) => parseWithSchema(schema, {}, a as never),
  validateWithSchema: (a, b) => validateWithSchema(a as never, b),
  withSpan: (a, b) => withSpan(a as never, b as never, async () => 1),
  'withSpan(fn)': (a) => withSpan('op', {}, a as never),
  canonicalJson: (a) => canonicalJson(a),
  fingerprint: (a) => fingerprint(a),
};

describe('core public entries with odd arguments', () => {
  for (const [name, call] of Object.entries(entries)) {
    it(`${name} returns, or throws its own TypeError or a FlowproofError (property)`, async () => {
      await fc.assert(
        fc.asyncProperty(odd, odd, async (makeA, makeB) => {
          const error = await settle(() => call(makeA(), makeB()));
          if (error !== undefined && !isDeliberate(error)) {
            throw new Error(`${name} let an engine error escape: ${String(error)}`);
          }
        }),
        { numRuns: 150 },
      );
    });
  }

  it('names the problem for the cases seen in the field', async () => {
    expect(() => toUtcIso(new Date(Number.NaN))).toThrow(/^instant is an invalid Date$/);
    expect(() => toUtcIso('2026-01-01T00:00:00Z' as never)).toThrow(/^instant must be a Date/);
    await expect(parseWithSchema({} as never, 1)).rejects.toThrow(
      /^schema must implement Standard Schema v1/,
    );
    expect(isFlowproofError(revokedProxy())).toBe(false);
    expect(() => canonicalJson(revokedProxy())).toThrow(
      expect.objectContaining({
        name: 'TypeError',
        message: expect.stringMatching(/revoked proxy/),
      }),
    );
    const failed = await parseWithSchema(schema, revokedProxy()).catch((error) => error);
    expect(failed).toMatchObject({ code: 'VALIDATION_FAILED', details: { validatorFailed: true } });
  });
});
