/**
 * The idempotency stores flowproof ships, as conformance targets over the backend targets in
 * `backends.ts`. Child processes import this module too (cross-process tests). Round trips are
 * counted by wrapping the backend: every query, command, script run or exclusive step is one.
 */
import {
  createMemoryIdempotencyStore,
  type MemoryBackend,
} from '../../src/adapters/memory/index.js';
import {
  createPostgresIdempotencyStore,
  type PostgresBackend,
} from '../../src/adapters/postgres/index.js';
import { createRedisIdempotencyStore, type RedisBackend } from '../../src/adapters/redis/index.js';
import {
  createSqliteIdempotencyStore,
  type SqliteBackend,
} from '../../src/adapters/sqlite/index.js';
import type { IdempotencyStoreHooks, IdempotencyStoreTarget } from '../../src/testing/index.js';
import {
  memoryTarget,
  pgliteTarget,
  postgresTarget,
  redisTarget,
  sqliteTarget,
} from './backends.js';

const COUNTED = new Set(['query', 'execute', 'command', 'exclusive']);

/**
 * A view of `backend` that calls `onRoundTrip` for each round trip. Methods are bound to the real
 * backend (its private fields need it); scripts are wrapped so each `run` counts once.
 */
export function countRoundTrips<B extends object>(backend: B, onRoundTrip: () => void): B {
  return new Proxy(backend, {
    get(target, property) {
      const value = Reflect.get(target, property, target) as unknown;
      if (typeof value !== 'function') return value;
      const bound = (value as (...args: unknown[]) => unknown).bind(target);
      if (typeof property === 'string' && COUNTED.has(property)) {
        return (...args: unknown[]) => {
          onRoundTrip();
          return bound(...args);
        };
      }
      if (property === 'script') {
        return (lua: string) => {
          const script = bound(lua) as { sha1: string; run: (...a: unknown[]) => unknown };
          return {
            sha1: script.sha1,
            run: (...a: unknown[]) => {
              onRoundTrip();
              return script.run(...a);
            },
          };
        };
      }
      return bound;
    },
  });
}

function counted<B extends object>(backend: B, hooks?: IdempotencyStoreHooks): B {
  return hooks?.onRoundTrip ? countRoundTrips(backend, hooks.onRoundTrip) : backend;
}

export const memoryIdempotencyTarget: IdempotencyStoreTarget = {
  name: 'memory',
  factory: async (namespace, hooks) =>
    createMemoryIdempotencyStore({
      backend: counted<MemoryBackend>(await memoryTarget.factory(namespace), hooks),
    }),
  capabilities: { transactions: true, storeClock: 'host' },
};

export const sqliteIdempotencyTarget: IdempotencyStoreTarget = {
  name: 'sqlite',
  factory: async (namespace, hooks) =>
    createSqliteIdempotencyStore({
      backend: counted<SqliteBackend>(await sqliteTarget.factory(namespace), hooks),
      ownsBackend: true,
    }),
  capabilities: { transactions: true, storeClock: 'host' },
};

export const pgliteIdempotencyTarget: IdempotencyStoreTarget = {
  name: 'pglite',
  factory: async (namespace, hooks) =>
    createPostgresIdempotencyStore({
      backend: counted<PostgresBackend>(await pgliteTarget.factory(namespace), hooks),
    }),
  // PGlite runs in this process: its clock_timestamp() follows the host's Date.now().
  capabilities: { transactions: true, storeClock: 'host' },
};

export const postgresIdempotencyTarget: IdempotencyStoreTarget = {
  name: 'postgres',
  factory: async (namespace, hooks) =>
    createPostgresIdempotencyStore({
      backend: counted<PostgresBackend>(await postgresTarget.factory(namespace), hooks),
    }),
  capabilities: { transactions: true },
};

export const redisIdempotencyTarget: IdempotencyStoreTarget = {
  name: 'redis',
  factory: async (namespace, hooks) =>
    createRedisIdempotencyStore({
      backend: counted<RedisBackend>(await redisTarget.factory(namespace), hooks),
    }),
  // Nothing to create: a Redis store works before migrate(), which only records the version.
  capabilities: { cleanup: 'native', requiresMigrate: false },
};
