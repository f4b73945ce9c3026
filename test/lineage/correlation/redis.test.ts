/**
 * The flow context through ioredis, on the test Redis. Commands, callback style included, and
 * pipelines/multi keep the caller's context by themselves: ioredis settles a promise created in
 * the call, and a callback or `await` after it runs in the caller's context (these tests prove
 * it, with concurrent callers on one connection). A pub/sub `message` listener is called from
 * the subscriber socket, outside any caller: it loses the context it was added in unless bound
 * with `bindContext`, and a publisher's context crosses only inside the message
 * (`contextTaskMessage` / `runInTaskContext`).
 */
import { once } from 'node:events';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { bindContext, getContext, runWithContext } from '../../../src/core/context.js';
import { createId } from '../../../src/core/ids.js';
import { contextTaskMessage, runInTaskContext } from '../../../src/lineage/index.js';
import { describeWithRedis } from '../../support/services.js';

const correlationId = () => getContext()?.correlationId;

describeWithRedis('ioredis', (url) => {
  let redis: Redis;
  let subscriber: Redis;
  const key = `test:correlation:${createId()}`;

  beforeAll(async () => {
    // Both connections open outside any context, as in an application's startup.
    redis = new Redis(url);
    subscriber = new Redis(url);
    await redis.set(key, 'v');
  });
  afterAll(async () => {
    await redis.del(key);
    await Promise.all([redis.quit(), subscriber.quit()]);
  });

  /** Runs `call` from `count` contexts at once on the shared connection; what each callback saw. */
  function fromContexts(count: number, call: (done: (seen: unknown) => void) => void) {
    return Promise.all(
      Array.from({ length: count }, (_, i) =>
        runWithContext(
          { correlationId: `caller-${i}` },
          () => new Promise<unknown>((resolve) => call(resolve)),
        ).then((seen) => [seen, `caller-${i}`]),
      ),
    );
  }

  it('keeps the context in command callbacks (no help needed)', async () => {
    const results = await fromContexts(
      20,
      (done) =>
        void redis.get(key, (error, value) => {
          expect(error).toBeNull();
          expect(value).toBe('v');
          done(correlationId());
        }),
    );
    for (const [seen, expected] of results) expect(seen).toBe(expected);
  });

  it('keeps it in pipeline and multi exec callbacks and awaits (no help needed)', async () => {
    const results = await fromContexts(
      10,
      (done) =>
        void redis
          .pipeline()
          .get(key)
          .incr(`${key}:n`)
          .exec(
            () =>
              void redis
                .multi()
                .get(key)
                .exec()
                .then(() => done(correlationId())),
          ),
    );
    for (const [seen, expected] of results) expect(seen).toBe(expected);
    await redis.del(`${key}:n`);
  });

  it('calls a pub/sub listener outside the context it was added in, unless bound', async () => {
    const channel = `${key}:events`;
    await subscriber.subscribe(channel);
    const heard: Record<string, unknown> = {};
    runWithContext({ correlationId: 'subscribed-here' }, () => {
      subscriber.on('message', () => {
        heard.plain = correlationId();
      });
      subscriber.on(
        'message',
        bindContext(() => {
          heard.bound = correlationId();
        }),
      );
    });
    const received = once(subscriber, 'message');
    await runWithContext({ correlationId: 'publisher' }, () => redis.publish(channel, 'x'));
    await received;
    // Neither the subscriber's context nor the publisher's reaches a plain listener.
    expect(heard.plain).toBeUndefined();
    expect(heard.bound).toBe('subscribed-here');
    subscriber.removeAllListeners('message');
    await subscriber.unsubscribe(channel);
  });

  it("carries the publisher's context inside the message", async () => {
    const channel = `${key}:jobs`;
    await subscriber.subscribe(channel);
    const seen: unknown[] = [];
    const all = new Promise<void>((resolve) =>
      subscriber.on('message', (_channel, text: string) =>
        runInTaskContext(JSON.parse(text), (task: { n: number }) => {
          seen.push([task.n, correlationId(), getContext()?.tenant]);
          if (seen.length === 5) resolve();
        }),
      ),
    );
    for (let n = 0; n < 5; n += 1) {
      await runWithContext({ correlationId: `pub-${n}`, tenant: 'acme' }, () =>
        redis.publish(channel, JSON.stringify(contextTaskMessage({ n }))),
      );
    }
    await all;
    expect(seen).toEqual([0, 1, 2, 3, 4].map((n) => [n, `pub-${n}`, 'acme']));
    subscriber.removeAllListeners('message');
    await subscriber.unsubscribe(channel);
  });
});
