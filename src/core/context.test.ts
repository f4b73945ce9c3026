import { EventEmitter, once } from 'node:events';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as delay } from 'node:timers/promises';
import fc from 'fast-check';
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

describe('the trace a flow was started with, without OpenTelemetry', () => {
  const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
  const tracestate = 'congo=t61rcWkgMzE';
  const withoutOtel = <R>(fn: () => R): R => {
    configureOpenTelemetry(null);
    try {
      return fn();
    } finally {
      configureOpenTelemetry(undefined);
    }
  };

  it('keeps remoteTrace in the context, inherited by nested contexts, and writes it out again', () => {
    withoutOtel(() => {
      const restored = restoreContext({ 'x-correlation-id': 'c-t', traceparent, tracestate });
      runWithContext(restored, () => {
        expect(getContext()).toEqual({ correlationId: 'c-t', traceparent, tracestate });
        runWithContext({ tenant: 'acme' }, () => {
          expect(getContext()?.traceparent).toBe(traceparent);
          expect(serializeContext()).toEqual({
            'x-correlation-id': 'c-t',
            'x-tenant-id': 'acme',
            traceparent,
            tracestate,
          });
        });
      });
    });
  });

  it('replaces the outer trace, tracestate included, when a new one is given', () => {
    const other = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00';
    runWithContext({ remoteTrace: { traceparent, tracestate } }, () => {
      runWithContext({ remoteTrace: { traceparent: other } }, () => {
        expect(getContext()?.traceparent).toBe(other);
        expect(getContext()?.tracestate).toBeUndefined();
      });
      runWithContext({ traceparent: other }, () => {
        expect(getContext()?.tracestate).toBeUndefined();
      });
    });
  });

  it('keeps only a well-formed remote trace, and refuses malformed trace fields', () => {
    runWithContext({ remoteTrace: { traceparent: 'garbage', tracestate } }, () => {
      expect(getContext()?.traceparent).toBeUndefined();
      expect(getContext()?.tracestate).toBeUndefined();
    });
    expect(() => runWithContext({ traceparent: 'garbage' }, () => 1)).toThrow(
      expect.objectContaining({ name: 'TypeError', message: expect.stringMatching(/traceparent/) }),
    );
    expect(() => runWithContext({ tracestate }, () => 1)).toThrow(/context\.tracestate/);
    expect(() => runWithContext({ traceparent, remoteTrace: { traceparent } }, () => 1)).toThrow(
      /context\.remoteTrace/,
    );
  });
});

describe('W3C baggage', () => {
  const allow = ['region', 'plan'];

  it('reads only allow-listed keys, percent-decoded, properties ignored', () => {
    const restored = restoreContext(
      {
        'x-correlation-id': 'c-b',
        baggage: 'region = eu%2Dwest%201;ttl=30 , plan=pro%E2%82%AC,user=alice;secret',
      },
      { baggage: allow },
    );
    expect(restored).toEqual({
      correlationId: 'c-b',
      baggage: { region: 'eu-west 1', plan: 'pro€' },
    });
    // Without the option, no baggage is read at all.
    expect(restoreContext({ baggage: 'region=eu' })).not.toHaveProperty('baggage');
    // Nothing allow-listed present: no baggage field.
    expect(restoreContext({ baggage: 'user=alice' }, { baggage: allow })).not.toHaveProperty(
      'baggage',
    );
    // true takes every key (for a trusted hop).
    expect(restoreContext({ baggage: 'a=1,b=2' }, { baggage: true }).baggage).toEqual({
      a: '1',
      b: '2',
    });
  });

  it.each([
    ['a member without =', 'region'],
    ['a space inside a value', 'region=eu west'],
    ['a bad percent escape', 'region=%E2%82'],
    ['a bad key', 'reg ion=eu'],
    ['an empty member', 'region=eu,,plan=pro'],
    ['a bad property', 'region=eu;a b'],
    ['more than 8192 bytes', `region=eu,pad=${'x'.repeat(8200)}`],
    ['more than 180 members', Array.from({ length: 181 }, (_, i) => `k${i}=v`).join(',')],
  ])('drops a baggage header with %s, or throws INVALID_CONTEXT when asked', (_, baggage) => {
    expect(restoreContext({ baggage }, { baggage: allow })).not.toHaveProperty('baggage');
    expect(() => restoreContext({ baggage }, { baggage: allow, onInvalid: 'throw' })).toThrow(
      expect.objectContaining({ code: 'INVALID_CONTEXT', details: { header: 'baggage' } }),
    );
  });

  it('treats an allow-listed key given twice with different values as ambiguous', () => {
    const baggage = 'region=eu,region=us';
    expect(restoreContext({ baggage }, { baggage: allow })).not.toHaveProperty('baggage');
    expect(() => restoreContext({ baggage }, { baggage: allow, onInvalid: 'throw' })).toThrow(
      expect.objectContaining({ details: { header: 'baggage', reason: 'ambiguous' } }),
    );
    expect(restoreContext({ baggage: 'region=eu,region=eu' }, { baggage: allow }).baggage).toEqual({
      region: 'eu',
    });
  });

  it('is kept in the context and written out: all of it, an allow-list, or none', () => {
    configureOpenTelemetry(null);
    try {
      runWithContext({ correlationId: 'c', baggage: { region: 'eu west', plan: 'pro' } }, () => {
        expect(serializeContext().baggage).toBe('region=eu%20west,plan=pro');
        expect(serializeContext(undefined, { baggage: ['plan', 'other'] }).baggage).toBe(
          'plan=pro',
        );
        expect(serializeContext(undefined, { baggage: false })).not.toHaveProperty('baggage');
        expect(serializeContext(undefined, { baggage: [] })).not.toHaveProperty('baggage');
        runWithContext({ tenant: 'acme' }, () => {
          expect(getContext()?.baggage).toEqual({ region: 'eu west', plan: 'pro' });
        });
      });
    } finally {
      configureOpenTelemetry(undefined);
    }
  });

  it('round-trips any baggage through serializeContext and restoreContext', () => {
    const key = fc.stringMatching(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,16}$/);
    fc.assert(
      fc.property(
        fc.dictionary(key, fc.string({ unit: 'grapheme' }), { maxKeys: 20 }),
        (baggage) => {
          const headers = serializeContext({ correlationId: 'c', baggage }, { baggage: true });
          const restored = restoreContext(headers, { baggage: true, onInvalid: 'throw' });
          expect(restored.baggage ?? {}).toEqual(baggage);
        },
      ),
    );
  });

  it('never throws on any baggage header but INVALID_CONTEXT, and only when asked', () => {
    const header = fc.oneof(
      fc.string(),
      fc
        .array(fc.tuple(fc.constantFrom('region', 'plan', 'a b', ''), fc.string(), fc.string()))
        .map((members) => members.map(([k, v, p]) => `${k}=${v};${p}`).join(',')),
    );
    fc.assert(
      fc.property(header, (baggage) => {
        const restored = restoreContext({ baggage }, { baggage: allow });
        for (const value of Object.values(restored.baggage ?? {}))
          expect(typeof value).toBe('string');
        try {
          restoreContext({ baggage }, { baggage: allow, onInvalid: 'throw' });
        } catch (error) {
          expect(error).toMatchObject({ code: 'INVALID_CONTEXT' });
        }
      }),
      { numRuns: 500 },
    );
  });

  it('keeps a __proto__ key as plain data', () => {
    const restored = restoreContext({ baggage: '__proto__=x,region=eu' }, { baggage: true });
    expect(Object.getPrototypeOf(restored.baggage)).toBe(Object.prototype);
    expect(Object.hasOwn(restored.baggage ?? {}, '__proto__')).toBe(true);
    runWithContext(restored, () => {
      expect(serializeContext(undefined, { baggage: ['__proto__'] }).baggage).toBe('__proto__=x');
    });
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  it('refuses malformed baggage and options with a TypeError naming them', () => {
    expect(() => runWithContext({ baggage: { 'bad key': 'x' } }, () => 1)).toThrow(
      /context\.baggage/,
    );
    expect(() => runWithContext({ baggage: { k: 5 as never } }, () => 1)).toThrow(
      /context\.baggage\.k/,
    );
    expect(() => runWithContext({ baggage: { k: '\ud800' } }, () => 1)).toThrow(
      /context\.baggage\.k/,
    );
    expect(() => runWithContext({ baggage: { k: 'x'.repeat(9000) } }, () => 1)).toThrow(
      /context\.baggage/,
    );
    expect(() => restoreContext({}, { baggage: 'region' as never })).toThrow(/options\.baggage/);
    expect(() => restoreContext({}, { baggage: ['bad key'] })).toThrow(/options\.baggage/);
    expect(() => serializeContext(undefined, { baggage: [1] as never })).toThrow(
      /options\.baggage/,
    );
    expect(() => serializeContext(undefined, { bagage: [] } as never)).toThrow(/options\.bagage/);
  });
});
