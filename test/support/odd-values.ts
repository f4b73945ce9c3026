/**
 * Arguments no caller should pass, for property tests that sweep public entries: revoked proxies,
 * proxies whose traps throw, getters that throw, symbols, BigInts, cyclic values and anything else
 * fast-check makes. Each public entry must answer with a `TypeError` naming the argument or a
 * `FlowproofError`, never with an engine error from deep inside.
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import { isFlowproofError } from '../../src/core/errors.js';

/** Values a caller should never pass, as recipes: fast-check must not inspect them itself. */
export const oddValue = fc.oneof(
  fc.constant(() => {
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    return proxy;
  }),
  fc.constant(
    () =>
      new Proxy(
        {},
        {
          get() {
            throw new Error('get trap');
          },
          ownKeys() {
            throw new Error('ownKeys trap');
          },
        },
      ),
  ),
  fc.constantFrom('id', 'type', 'state', 'limit', 'payload', 'data', 'direction').map(
    (key) => () =>
      Object.defineProperty({}, key, {
        enumerable: true,
        get() {
          throw new Error(`getter ${key}`);
        },
      }),
  ),
  fc.constant(() => Symbol('odd')),
  fc.bigInt().map((value) => () => value),
  fc.constant(() => {
    const cyclic: Record<string, unknown> = { type: 'go' };
    cyclic.self = cyclic;
    cyclic.payload = cyclic;
    return cyclic;
  }),
  fc.anything().map((value) => () => value),
);

/**
 * Runs `call`; it may succeed, throw a FlowproofError, or throw a TypeError whose message names
 * `argument` (not an engine error such as "Cannot perform 'get' on a proxy that has been revoked").
 */
export async function expectNoEngineError(argument: string, call: () => unknown): Promise<void> {
  try {
    await call();
  } catch (error) {
    if (isFlowproofError(error)) return;
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toMatch(new RegExp(`(^|\\s|")${argument}[\\s.[]`));
  }
}
