/**
 * EventEmitter and streams. A listener runs in the context of the `emit` call, so one added in
 * a context but fired from outside (a socket, a timer of another flow) loses it: `bindContext`
 * on the listener, or an `EventEmitterAsyncResource` created in the context, keeps it (the
 * plain case is the proof of the loss). Streams in a `pipeline` started in a context keep it in
 * every transform, async generator and callback with no help (AsyncLocalStorage alone, proved
 * here with concurrent pipelines).
 */
import { EventEmitter, EventEmitterAsyncResource } from 'node:events';
import { Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { bindContext, getContext, runWithContext } from '../../../src/core/context.js';

const correlationId = () => getContext()?.correlationId;

describe('EventEmitter fired from outside the context', () => {
  /** Adds a listener in context `added`, emits from context `emitter`; what the listener saw. */
  function heardBy(wrap: (listener: () => void) => () => void): unknown {
    const emitter = new EventEmitter();
    let heard: unknown = 'not called';
    runWithContext({ correlationId: 'added' }, () => {
      emitter.on(
        'event',
        wrap(() => {
          heard = correlationId();
        }),
      );
    });
    runWithContext({ correlationId: 'emitter' }, () => emitter.emit('event'));
    return heard;
  }

  it("runs a plain listener in the emitter's context (the loss)", () => {
    expect(heardBy((listener) => listener)).toBe('emitter');
  });

  it('runs a listener bound with bindContext in the context it was added in', () => {
    expect(heardBy(bindContext)).toBe('added');
  });

  it("runs every listener of an EventEmitterAsyncResource in its creator's context", () => {
    const emitter = runWithContext(
      { correlationId: 'created' },
      () => new EventEmitterAsyncResource({ name: 'orders' }),
    );
    const heard: unknown[] = [];
    emitter.on('event', () => heard.push(correlationId()));
    runWithContext({ correlationId: 'emitter' }, () => emitter.emit('event'));
    setImmediate(() => emitter.emit('event'));
    return delay(5).then(() => {
      expect(heard).toEqual(['created', 'created']);
      emitter.emitDestroy();
    });
  });
});

describe('streams', () => {
  it('keeps each pipeline of Transform streams in its own context', async () => {
    const seen = new Map<string, Set<unknown>>();
    const note = (id: string) => seen.get(id)?.add(correlationId());
    const run = (id: string) =>
      runWithContext({ correlationId: id }, () => {
        seen.set(id, new Set());
        return pipeline(
          Readable.from([1, 2, 3, 4]),
          new Transform({
            objectMode: true,
            transform(chunk, _encoding, callback) {
              note(id);
              setTimeout(() => callback(null, chunk * 2), Math.random() * 3);
            },
          }),
          async function* (source) {
            for await (const chunk of source) {
              note(id);
              await delay(1);
              yield chunk;
            }
          },
          new Writable({
            objectMode: true,
            write(_chunk, _encoding, callback) {
              note(id);
              setImmediate(callback);
            },
            final(callback) {
              note(id);
              callback();
            },
          }),
        );
      });
    await Promise.all(['p1', 'p2', 'p3'].map(run));
    for (const [id, contexts] of seen) expect([...contexts]).toEqual([id]);
  });
});
