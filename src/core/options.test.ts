import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { restoreContext, runWithContext } from './context.js';
import { assertKnownKeys, assertOptionsObject } from './options.js';

describe('assertKnownKeys', () => {
  it('accepts objects whose keys are all known, including none', () => {
    expect(() => assertKnownKeys({}, ['leaseMs'], 'options')).not.toThrow();
    expect(() => assertKnownKeys({ leaseMs: 1 }, ['leaseMs', 'ttlMs'], 'options')).not.toThrow();
  });

  it('names every unknown key with its path, and lists the known ones', () => {
    expect(() => assertKnownKeys({ leasMs: 1 }, ['leaseMs', 'ttlMs'], 'options')).toThrow(
      new TypeError('unknown option options.leasMs; expected one of: leaseMs, ttlMs'),
    );
    expect(() => assertKnownKeys({ a: 1, leaseMs: 1, b: 2 }, ['leaseMs'], 'options.http')).toThrow(
      new TypeError('unknown options options.http.a, options.http.b; expected one of: leaseMs'),
    );
  });

  it('refuses exactly the objects with a key outside the known list (property)', () => {
    const known = ['leaseMs', 'ttlMs', 'scope'];
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.anything()), (value) => {
        const unknown = Object.keys(value).filter((key) => !known.includes(key));
        let thrown: unknown;
        try {
          assertKnownKeys(value, known, 'options');
        } catch (error) {
          thrown = error;
        }
        if (unknown.length === 0) expect(thrown).toBeUndefined();
        else {
          expect(thrown).toBeInstanceOf(TypeError);
          for (const key of unknown) expect((thrown as Error).message).toContain(`options.${key}`);
        }
      }),
    );
  });

  it('is used by the core entries that take option objects', () => {
    expect(() => restoreContext({}, { trustIdentty: true } as never)).toThrow(
      /unknown option options\.trustIdentty/,
    );
    expect(() => runWithContext({ tennant: 'acme' } as never, () => 1)).toThrow(
      /unknown option context\.tennant/,
    );
    expect(() => runWithContext({ actor: { id: 'u', kind: 'user' } } as never, () => 1)).toThrow(
      /unknown option context\.actor\.kind/,
    );
  });
});

describe('assertOptionsObject', () => {
  it('refuses a revoked proxy with its own TypeError', () => {
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    expect(() => assertOptionsObject(proxy, 'options')).toThrow(/^options must be an object/);
  });
});
