import { EventEmitter, once } from 'node:events';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import {
  bindContext,
  CONTEXT_HEADERS,
  getContext,
  restoreContext,
  runWithContext,
  serializeContext,
} from './context.js';
import { configureOpenTelemetry } from './opentelemetry.js';

describe('runWithContext / getContext', () => {
  it('is undefined outside any context', () => {
    expect(getContext()).toBeUndefined();
  });

  it('generates a ULID correlation id when none is given', () => {
    const id = runWithContext({}, () => getContext()?.correlationId);
    expect(id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
  });

  it('survives await, timers, promise chains and setImmediate', async () => {
    await runWithContext({ correlationId: 'corr-1', tenant: 'acme' }, async () => {
      await delay(5);
      expect(getContext()?.correlationId).toBe('corr-1');
      const fromTimer = await new Promise((resolve) =>
        setTimeout(() => resolve(getContext()?.tenant), 1),
      );
      expect(fromTimer).toBe('acme');
      const fromImmediate = await new Promise((resolve) =>
        setImmediate(() => resolve(getContext()?.correlationId)),
      );
      expect(fromImmediate).toBe('corr-1');
      const chained = await Promise.resolve()
        .then(() => delay(1))
        .then(() => getContext()?.correlationId);
      expect(chained).toBe('corr-1');
    });
  });

  it('keeps concurrent flows apart', async () => {
    const seen = await Promise.all(
      ['a', 'b', 'c'].map((id) =>
        runWithContext({ correlationId: id }, async () => {
          await delay(Math.random() * 10);
          return getContext()?.correlationId;
        }),
      ),
    );
    expect(seen).toEqual(['a', 'b', 'c']);
  });

  it('inherits outer fields and overrides the given ones', () => {
    runWithContext({ correlationId: 'outer', tenant: 't1', actor: { id: 'u1' } }, () => {
      runWithContext({ causationId: 'msg-9', actor: { id: 'svc', type: 'service' } }, () => {
        expect(getContext()).toEqual({
          correlationId: 'outer',
          tenant: 't1',
          causationId: 'msg-9',
          actor: { id: 'svc', type: 'service' },
        });
      });
      expect(getContext()?.actor).toEqual({ id: 'u1' });
    });
  });

  it('reaches EventEmitter listeners when emitted inside the context', async () => {
    const emitter = new EventEmitter();
    const heard = new Promise((resolve) =>
      emitter.on('order', () => resolve(getContext()?.correlationId)),
    );
    runWithContext({ correlationId: 'emit-inside' }, () => emitter.emit('order'));
    expect(await heard).toBe('emit-inside');
  });

  it('reaches listeners bound with bindContext when emitted from elsewhere', async () => {
    const emitter = new EventEmitter();
    runWithContext({ correlationId: 'bound' }, () => {
      emitter.on(
        'data',
        bindContext(() => emitter.emit('seen', getContext()?.correlationId)),
      );
    });
    const seen = once(emitter, 'seen');
    setTimeout(() => emitter.emit('data'), 1); // fired outside any context
    expect(await seen).toEqual(['bound']);
  });

  it('reaches stream transforms in a pipeline', async () => {
    const seen: (string | undefined)[] = [];
    await runWithContext({ correlationId: 'stream-1' }, () =>
      pipeline(
        Readable.from([1, 2, 3]),
        new Transform({
          objectMode: true,
          transform(chunk, _encoding, callback) {
            seen.push(getContext()?.correlationId);
            setTimeout(() => callback(null, chunk), 1);
          },
        }),
        async function* (source) {
          for await (const chunk of source) {
            seen.push(getContext()?.correlationId);
            yield chunk;
          }
        },
      ),
    );
    expect(seen).toHaveLength(6);
    expect(new Set(seen)).toEqual(new Set(['stream-1']));
  });

  it('rejects malformed fields with a TypeError naming them', () => {
    expect(() => runWithContext({ correlationId: 'has space' }, () => 1)).toThrow(/correlationId/);
    expect(() => runWithContext({ tenant: 'x'.repeat(200) }, () => 1)).toThrow(/tenant/);
    expect(() => runWithContext(null as never, () => 1)).toThrow(TypeError);
  });
});

describe('serializeContext / restoreContext', () => {
  it('round-trips a context through headers', () => {
    configureOpenTelemetry(null);
    try {
      const context = {
        correlationId: 'c-1',
        causationId: 'm-1',
        actor: { id: 'user_1', type: 'user' },
        tenant: 'acme',
      };
      const headers = runWithContext(context, () => serializeContext());
      expect(headers).toEqual({
        'x-correlation-id': 'c-1',
        'x-causation-id': 'm-1',
        'x-actor-id': 'user_1',
        'x-actor-type': 'user',
        'x-tenant-id': 'acme',
      });
      expect(restoreContext(headers, { trustIdentity: true })).toEqual(context);
    } finally {
      configureOpenTelemetry(undefined);
    }
  });

  it('ignores identity headers unless trusted', () => {
    const restored = restoreContext({
      'X-Correlation-Id': 'c-2',
      'x-actor-id': 'admin',
      'x-tenant-id': 'victim',
    });
    expect(restored).toEqual({ correlationId: 'c-2' });
  });

  it('accepts Node header arrays and lets the handled message become the cause', () => {
    const restored = restoreContext(
      { [CONTEXT_HEADERS.correlationId]: ['c-3', 'c-4'] },
      { causationId: 'msg-77' },
    );
    expect(restored).toEqual({ correlationId: 'c-3', causationId: 'msg-77' });
  });

  it('replaces a malformed correlation id, or throws INVALID_CONTEXT when asked', () => {
    const replaced = restoreContext({ 'x-correlation-id': 'bad value\n' });
    expect(replaced.correlationId).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(() =>
      restoreContext({ 'x-correlation-id': '<script>' }, { onInvalid: 'throw' }),
    ).toThrow(expect.objectContaining({ code: 'INVALID_CONTEXT' }));
  });

  describe('W3C trace context', () => {
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const tracestate = 'congo=t61rcWkgMzE, rojo=00f067aa0ba902b7,tenant1@vendor=x';

    it('passes a well-formed traceparent and tracestate on', () => {
      const restored = restoreContext({ Traceparent: traceparent, tracestate });
      expect(restored.remoteTrace).toEqual({ traceparent, tracestate });
      // A later version may append fields after the four it shares with version 00.
      const future =
        'cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-holds';
      expect(restoreContext({ traceparent: future }).remoteTrace).toEqual({
        traceparent: future,
      });
    });

    it.each([
      ['CR/LF and 100 KB', `garbage\r\nx: y${'z'.repeat(100_000)}`],
      ['upper-case hex', traceparent.toUpperCase()],
      ['an all-zero trace id', `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`],
      ['an all-zero parent id', `00-4bf92f3577b34da6a3ce929d0e0e4736-${'0'.repeat(16)}-01`],
      ['the forbidden version ff', `ff${traceparent.slice(2)}`],
      ['extra fields on version 00', `${traceparent}-extra`],
      ['a short trace id', '00-4bf92f3577b34da6a3ce929d0e0e47-00f067aa0ba902b7-01'],
    ])('drops a traceparent with %s, or throws INVALID_CONTEXT when asked', (_, value) => {
      const restored = restoreContext({ traceparent: value, tracestate, 'x-correlation-id': 'c' });
      // Without a valid traceparent, W3C says the tracestate must be discarded too.
      expect(restored).toEqual({ correlationId: 'c' });
      expect(() => restoreContext({ traceparent: value }, { onInvalid: 'throw' })).toThrow(
        expect.objectContaining({ code: 'INVALID_CONTEXT', details: { header: 'traceparent' } }),
      );
    });

    it.each([
      [
        'more than 512 characters',
        Array.from({ length: 3 }, (_, i) => `k${i}=${'b'.repeat(200)}`).join(','),
      ],
      ['CR/LF', 'congo=t61rcWkgMzE\r\nset-cookie: x=y'],
      ['a member without =', 'congo'],
      ['an upper-case key', 'Congo=1'],
      ['a value with =', 'congo=a=b'],
      ['more than 32 members', Array.from({ length: 33 }, (_, i) => `k${i}=v`).join(',')],
    ])('drops a tracestate with %s, or throws INVALID_CONTEXT when asked', (_, value) => {
      expect(restoreContext({ traceparent, tracestate: value }).remoteTrace).toEqual({
        traceparent,
      });
      expect(() =>
        restoreContext({ traceparent, tracestate: value }, { onInvalid: 'throw' }),
      ).toThrow(
        expect.objectContaining({ code: 'INVALID_CONTEXT', details: { header: 'tracestate' } }),
      );
    });
  });

  it('checks its options: causationId like the context does, onInvalid and trustIdentity', () => {
    // Accepting these would fail later, in runWithContext, far from the mistake.
    for (const causationId of ['has space', '', 'x'.repeat(129), 42]) {
      expect(() => restoreContext({}, { causationId: causationId as string })).toThrow(
        expect.objectContaining({
          name: 'TypeError',
          message: expect.stringMatching(/^options\.causationId /),
        }),
      );
    }
    expect(() => restoreContext({}, { onInvalid: 'THROW' as never })).toThrow(
      expect.objectContaining({ name: 'TypeError', message: expect.stringMatching(/onInvalid/) }),
    );
    // A truthy string must not switch on trust in client-supplied identity headers.
    expect(() => restoreContext({}, { trustIdentity: 'false' as never })).toThrow(
      expect.objectContaining({
        name: 'TypeError',
        message: expect.stringMatching(/trustIdentity/),
      }),
    );
    const restored = restoreContext({}, { causationId: 'msg-1', onInvalid: 'replace' });
    expect(runWithContext(restored, () => getContext()?.causationId)).toBe('msg-1');
  });

  it('treats names differing only in case with different values as ambiguous', () => {
    const carrier = { 'X-Correlation-Id': 'first', 'x-correlation-id': 'second' };
    const restored = restoreContext(carrier);
    expect(restored.correlationId).not.toMatch(/^(first|second)$/);
    expect(restored.correlationId).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(() => restoreContext(carrier, { onInvalid: 'throw' })).toThrow(
      expect.objectContaining({
        code: 'INVALID_CONTEXT',
        details: { header: 'x-correlation-id', reason: 'ambiguous' },
      }),
    );
    // A trusted identity header smuggled in beside the proxy's own is not picked either way.
    const tenant = restoreContext(
      { 'x-tenant-id': 'acme', 'X-TENANT-ID': 'victim', 'x-correlation-id': 'c' },
      { trustIdentity: true },
    );
    expect(tenant).toEqual({ correlationId: 'c' });
    // The same value repeated is not ambiguous.
    expect(restoreContext({ 'X-Correlation-Id': 'same', 'x-correlation-id': 'same' })).toEqual({
      correlationId: 'same',
    });
  });

  it('serializes an empty carrier outside a context', () => {
    configureOpenTelemetry(null);
    try {
      expect(serializeContext()).toEqual({});
    } finally {
      configureOpenTelemetry(undefined);
    }
  });
});
