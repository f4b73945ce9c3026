import { type Cluster, Redis } from 'ioredis';
import { describe, expectTypeOf, it } from 'vitest';
import type { RedisClientLike } from './redis-client.js';

describe('RedisClientLike', () => {
  it('accepts an ioredis Redis client', () => {
    expectTypeOf<Redis>().toExtend<RedisClientLike>();
    const client: RedisClientLike = new Redis({ lazyConnect: true });
    expectTypeOf(client.call).returns.toEqualTypeOf<Promise<unknown>>();
  });

  it('accepts an ioredis Cluster client', () => {
    expectTypeOf<Cluster>().toExtend<RedisClientLike>();
  });

  it('rejects objects without call()', () => {
    expectTypeOf<{ status: string }>().not.toExtend<RedisClientLike>();
  });
});
