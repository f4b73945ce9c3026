import Database from 'better-sqlite3';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { entityInsert } from '../../test/support/entity-rows.js';
import { describeWithRedis } from '../../test/support/services.js';
import { uniqueNamespace } from '../testing/index.js';
import {
  createMemoryBackend,
  createMemoryEntityStore,
  createMemoryIdempotencyStore,
  createMemorySagaStore,
} from './memory/index.js';
import { createPostgresBackend, createPostgresIdempotencyStore } from './postgres/index.js';
import { createRedisBackend, createRedisIdempotencyStore } from './redis/index.js';
import {
  createSqliteBackend,
  createSqliteEntityStore,
  createSqliteIdempotencyStore,
  createSqliteSagaStore,
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
    createMemorySagaStore: (extra) => createMemorySagaStore({ backend: memory, ...extra }),
    createSqliteSagaStore: (extra) =>
      createSqliteSagaStore({
        backend: createSqliteBackend({ database: new Database(':memory:') }),
        ...extra,
      }),
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
    ['memory saga', createMemorySagaStore({ backend: memory }), sqlite, memory],
    ['SQLite saga', createSqliteSagaStore({ backend: sqlite }), memory, sqlite],
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

  it('SQLite saga logs', async () => {
    const backend = createSqliteBackend({ database: new Database(':memory:') });
    const store = createSqliteSagaStore({ backend });
    await store.migrate();
    const saga = { id: 's-1', name: 'order', version: 1, status: 'running', log: {} } as const;
    await store.create(saga);
    await backend.execute(`UPDATE ${backend.table('saga_runs')} SET log = '{steps'`);
    const corrupt = {
      name: 'FlowproofError',
      code: 'STORE_DATA_CORRUPT',
      details: { backend: 'sqlite', component: 'saga', id: 's-1', field: 'log' },
      message: expect.not.stringContaining('{steps'),
      cause: expect.any(SyntaxError),
    };
    await expect(store.get('s-1')).rejects.toMatchObject(corrupt);
    await expect(store.list({ limit: 5 })).rejects.toMatchObject(corrupt);
    await expect(
      store.claim({ owner: 'r', leaseMs: 1000, limit: 5, statuses: ['running'] }),
    ).rejects.toMatchObject(corrupt);
    await expect(store.create(saga)).rejects.toMatchObject(corrupt);
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

describe('saga stores keep any JSON log exactly', () => {
  const stores = {
    memory: () => createMemorySagaStore({ backend: createMemoryBackend() }),
    SQLite: () =>
      createSqliteSagaStore({
        backend: createSqliteBackend({ database: new Database(':memory:') }),
      }),
  };
  it.each(Object.entries(stores))('%s', async (_, open) => {
    const store = open();
    await store.migrate();
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.jsonValue(), async (log) => {
        n += 1;
        const id = `s-${n}`;
        await store.create({ id, name: 'p', version: 1, status: 'running', log });
        // JSON has one zero: -0 is kept as 0.
        expect((await store.get(id))?.log).toEqual(JSON.parse(JSON.stringify(log)));
      }),
      { numRuns: 200 },
    );
  });
});
