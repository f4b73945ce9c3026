import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { entityInsert } from '../../test/support/entity-rows.js';
import { describeWithRedis } from '../../test/support/services.js';
import { uniqueNamespace } from '../testing/index.js';
import {
  createMemoryBackend,
  createMemoryEntityStore,
  createMemoryIdempotencyStore,
} from './memory/index.js';
import { createPostgresBackend, createPostgresIdempotencyStore } from './postgres/index.js';
import { createRedisBackend, createRedisIdempotencyStore } from './redis/index.js';
import {
  createSqliteBackend,
  createSqliteEntityStore,
  createSqliteIdempotencyStore,
} from './sqlite/index.js';

describe('backend and store factories', () => {
  const pgClient = { query: async () => ({ rows: [] }) };
  const redisClient = { call: async () => null, status: 'ready' };
  const memory = createMemoryBackend();
  const factories: Record<string, (extra: object) => unknown> = {
    createMemoryBackend: (extra) => createMemoryBackend({ ...extra }),
    createSqliteBackend: (extra) =>
      createSqliteBackend({ database: new Database(':memory:'), ...extra }),
    createPostgresBackend: (extra) => createPostgresBackend({ client: pgClient, ...extra }),
    createRedisBackend: (extra) => createRedisBackend({ client: redisClient, ...extra }),
    createMemoryIdempotencyStore: (extra) =>
      createMemoryIdempotencyStore({ backend: memory, ...extra }),
    createMemoryEntityStore: (extra) => createMemoryEntityStore({ backend: memory, ...extra }),
  };

  it.each(Object.entries(factories))('%s refuses a misspelled option, naming it', (_, create) => {
    expect(() => create({ leasMs: 1 })).toThrow(TypeError);
    expect(() => create({ leasMs: 1 })).toThrow(/options\.leasMs/);
    expect(() => create({})).not.toThrow();
  });
});

describe('withBackend() of the module stores', () => {
  const memory = createMemoryBackend();
  const sqlite = createSqliteBackend({ database: new Database(':memory:') });
  const stores = [
    ['memory idempotency', createMemoryIdempotencyStore({ backend: memory }), sqlite, memory],
    ['memory entity', createMemoryEntityStore({ backend: memory }), sqlite, memory],
    ['SQLite idempotency', createSqliteIdempotencyStore({ backend: sqlite }), memory, sqlite],
    ['SQLite entity', createSqliteEntityStore({ backend: sqlite }), memory, sqlite],
  ] as const;

  it.each(stores)('%s store refuses a backend of another kind', (_, store, other, own) => {
    const bind = store.withBackend.bind(store) as (backend: unknown) => unknown;
    expect(() => bind(other)).toThrow(TypeError);
    expect(() => bind(undefined)).toThrow(/backend must be a/);
    expect(bind(own)).toMatchObject({ kind: own.kind });
  });
});

describe('stored data a store cannot decode is STORE_DATA_CORRUPT, naming the record', () => {
  const { entity, history } = entityInsert('order', 'o-1', { total: 5 });

  it('SQLite entity data and history payloads', async () => {
    const backend = createSqliteBackend({ database: new Database(':memory:') });
    const store = createSqliteEntityStore({ backend });
    await store.migrate();
    await store.insert({ entity, history });
    await backend.execute(`UPDATE ${backend.table('state_machine_entities')} SET data = '{total'`);
    await expect(store.load('order', 'o-1')).rejects.toMatchObject({
      name: 'FlowproofError',
      code: 'STORE_DATA_CORRUPT',
      details: {
        backend: 'sqlite',
        component: 'state-machine',
        machineId: 'order',
        id: 'o-1',
        field: 'data',
      },
      message: expect.not.stringContaining('{total'),
      cause: expect.any(SyntaxError),
    });
    await backend.execute(`UPDATE ${backend.table('state_machine_history')} SET payload = 'nope'`);
    await expect(
      store.listHistory({ machineId: 'order', entityId: 'o-1', afterStateVersion: 0, limit: 5 }),
    ).rejects.toMatchObject({
      code: 'STORE_DATA_CORRUPT',
      details: { id: 'o-1', field: 'payload', stateVersion: 1 },
    });
  });

  describeWithRedis('Redis idempotency records', (url) => {
    it('get() and claim() of a record not in the store format', async () => {
      const client = new Redis(url);
      try {
        const backend = createRedisBackend({ client, keyPrefix: `${uniqueNamespace()}:` });
        const store = createRedisIdempotencyStore({ backend });
        await store.migrate();
        await backend.command('SET', backend.key('idempotency', 'k-1'), 'written by hand');
        const corrupt = {
          name: 'FlowproofError',
          code: 'STORE_DATA_CORRUPT',
          details: { backend: 'redis', component: 'idempotency', id: 'k-1', field: 'record' },
        };
        await expect(store.get('k-1')).rejects.toMatchObject(corrupt);
        await expect(
          store.claim({
            key: 'k-1',
            fingerprint: 'f',
            leaseMs: 1000,
            retentionMs: 1000,
            reclaimStarted: false,
          }),
        ).rejects.toMatchObject(corrupt);
        // The record is left for someone to look at, not overwritten.
        expect(await backend.command('GET', backend.key('idempotency', 'k-1'))).toBe(
          'written by hand',
        );
      } finally {
        await client.quit();
      }
    });
  });
});

describe('a claim statement that returns no row', () => {
  // Should never happen with a healthy engine; if it does, the caller gets a typed backend error,
  // not a bare Error.
  const request = {
    key: 'k',
    fingerprint: 'f',
    leaseMs: 1000,
    retentionMs: 1000,
    reclaimStarted: false,
  };

  it('is BACKEND_ERROR on PostgreSQL', async () => {
    const store = createPostgresIdempotencyStore({
      backend: createPostgresBackend({ client: { query: async () => ({ rows: [] }) } }),
    });
    await expect(store.claim(request)).rejects.toMatchObject({
      name: 'FlowproofError',
      code: 'BACKEND_ERROR',
      details: { backend: 'postgres', reason: 'claim-returned-no-row' },
    });
  });

  it('is BACKEND_ERROR on SQLite', async () => {
    const backend = createSqliteBackend({ database: new Database(':memory:') });
    const store = createSqliteIdempotencyStore({ backend });
    await store.migrate();
    // The real backend, but every statement answers with no rows.
    const noRow = new Proxy(backend, {
      get: (target, property) => {
        if (property === 'query') return async () => [];
        const value = Reflect.get(target, property, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    await expect(store.withBackend(noRow).claim(request)).rejects.toMatchObject({
      name: 'FlowproofError',
      code: 'BACKEND_ERROR',
      details: { backend: 'sqlite', reason: 'claim-returned-no-row' },
    });
  });
});
