/**
 * The correlation helpers answer odd arguments (revoked proxies, throwing getters, symbols,
 * anything fast-check makes) with a TypeError naming the argument, never an engine error.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { restoreContext, serializeContext } from '../../../src/core/context.js';
import {
  bindPoolToContext,
  contextTaskMessage,
  correlationMixin,
  createContextFetch,
  flowContextMiddleware,
  limitConcurrency,
  runInTaskContext,
  withFlowContext,
} from '../../../src/lineage/index.js';
import { expectNoEngineError, oddValue } from '../../support/odd-values.js';

const entries: [string, string, (value: unknown) => unknown][] = [
  ['flowContextMiddleware', 'options', (v) => flowContextMiddleware(v as never)],
  [
    'flowContextMiddleware baggage',
    'options',
    (v) => flowContextMiddleware({ baggage: v as never }),
  ],
  ['withFlowContext', 'options', (v) => withFlowContext(() => new Response(), v as never)],
  ['withFlowContext handler', 'handler', (v) => withFlowContext(v as never)],
  ['createContextFetch', 'options', (v) => createContextFetch(v as never)],
  ['limitConcurrency', 'concurrency', (v) => limitConcurrency(v as never)],
  ['limitConcurrency task', 'task', (v) => limitConcurrency(1)(v as never)],
  ['bindPoolToContext', 'pool', (v) => bindPoolToContext(v as never)],
  ['contextTaskMessage', 'options', (v) => contextTaskMessage({}, v as never)],
  ['runInTaskContext', 'message', (v) => runInTaskContext(v as never, () => 1)],
  ['correlationMixin', 'options', (v) => correlationMixin(v as never)],
  ['serializeContext', 'options', (v) => serializeContext(undefined, v as never)],
  ['restoreContext baggage', 'options', (v) => restoreContext({}, { baggage: v as never })],
];

describe('odd arguments', () => {
  for (const [name, argument, call] of entries) {
    it(`${name}: a TypeError naming ${argument}, or success`, async () => {
      await fc.assert(
        fc.asyncProperty(oddValue, async (make) =>
          expectNoEngineError(argument, () => call(make())),
        ),
        { numRuns: 150 },
      );
    });
  }
});

describe('flowContextMiddleware given what is not a request', () => {
  it('throws a TypeError naming request.headers, and never calls next', async () => {
    const response = { setHeader() {} };
    await fc.assert(
      fc.asyncProperty(oddValue, async (make) => {
        let called = false;
        const headers = make();
        const ok = typeof headers === 'object' && headers !== null;
        await expectNoEngineError('request.headers', () =>
          flowContextMiddleware()({ headers } as never, response, () => {
            called = true;
          }),
        );
        if (!ok) expect(called).toBe(false);
      }),
      { numRuns: 150 },
    );
    for (const request of [null, undefined, {}, { headers: 'x-correlation-id: 1' }]) {
      expect(() => flowContextMiddleware()(request as never, response, () => {})).toThrow(
        /^request(\.headers)? /,
      );
    }
  });
});
