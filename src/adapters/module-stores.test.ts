import { PGlite } from '@electric-sql/pglite';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { countedStatements } from '../../test/support/counted-statements.js';
import { entityInsert } from '../../test/support/entity-rows.js';
import { orderTotalRecord } from '../../test/support/lineage-records.js';
import { describeWithRedis } from '../../test/support/services.js';
import { uniqueNamespace } from '../testing/index.js';
import {
  createMemoryBackend,
  createMemoryEntityStore,
  createMemoryIdempotencyStore,
  createMemoryLineageStore,
  createMemoryOutboxStore,
  createMemorySagaStore,
} from './memory/index.js';
import {
  createPostgresAuditStore,
  createPostgresBackend,
  createPostgresIdempotencyStore,
  createPostgresLineageStore,
  createPostgresOutboxStore,
  createPostgresSagaStore,
} from './postgres/index.js';
import { createRedisBackend, createRedisIdempotencyStore } from './redis/index.js';
import {
  createSqliteAuditStore,
  createSqliteBackend,
  createSqliteEntityStore,
  createSqliteIdempotencyStore,
  createSqliteLineageStore,
  createSqliteOutboxStore,
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
    createMemoryOutboxStore: (extra) => createMemoryOutboxStore({ backend: memory, ...extra }),
    createSqliteOutboxStore: (extra) =>
      createSqliteOutboxStore({
        backend: createSqliteBackend({ database: new Database(':memory:') }),
        ...extra,
      }),
    createPostgresOutboxStore: (extra) =>
      createPostgresOutboxStore({ backend: createPostgresBackend({ client: pgClient }), ...extra }),
    createSqliteAuditStore: (extra) =>
      createSqliteAuditStore({
        backend: createSqliteBackend({ database: new Database(':memory:') }),
        ...extra,
      }),
    createPostgresAuditStore: (extra) =>
      createPostgresAuditStore({ backend: createPostgresBackend({ client: pgClient }), ...extra }),
    createMemoryLineageStore: (extra) => createMemoryLineageStore({ backend: memory, ...extra }),
    createSqliteLineageStore: (extra) =>
      createSqliteLineageStore({
        backend: createSqliteBackend({ database: new Database(':memory:') }),
        ...extra,
      }),
    createPostgresLineageStore: (extra) =>
      createPostgresLineageStore({
        backend: createPostgresBackend({ client: pgClient }),
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
    ['memory outbox', createMemoryOutboxStore({ backend: memory }), sqlite, memory],
    ['SQLite outbox', createSqliteOutboxStore({ backend: sqlite }), memory, sqlite],
    ['SQLite audit', createSqliteAuditStore({ backend: sqlite }), memory, sqlite],
    ['memory lineage', createMemoryLineageStore({ backend: memory }), sqlite, memory],
    ['SQLite lineage', createSqliteLineageStore({ backend: sqlite }), memory, sqlite],
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

  it('SQLite audit records, heads and checkpoints', async () => {
    const backend = createSqliteBackend({ database: new Database(':memory:') });
    const store = createSqliteAuditStore({ backend });
    await store.migrate();
    const content = '"action":"a","actor":null,"resource":{"id":"1","type":"t"}';
    const [row] = await store.append([
      {
        chain: 'g',
        content,
        action: 'a',
        actorId: null,
        resourceType: 't',
        resourceId: '1',
        correlationId: null,
      },
    ]);
    await store.addCheckpoint({
      chain: 'g',
      seq: 1,
      hash: row?.hash ?? '',
      signedAt: 1,
      keyId: 'k',
      algorithm: 'ed25519',
      signature: 's',
    });
    // Written behind the store's back (its triggers refuse changes): drop them first.
    for (const trigger of [
      'audit_records_no_update',
      'audit_heads_forward_only',
      'audit_checkpoints_no_update',
    ]) {
      await backend.execute(`DROP TRIGGER ${backend.table(trigger)}`);
    }
    await backend.execute(`UPDATE ${backend.table('audit_records')} SET recorded_at = 'soon'`);
    const corrupt = (field: string) => ({
      name: 'FlowproofError',
      code: 'STORE_DATA_CORRUPT',
      details: { backend: 'sqlite', component: 'audit', id: 'g/1', field },
      message: expect.not.stringContaining('soon'),
    });
    await expect(store.readChain({ chain: 'g', afterSeq: 0, limit: 5 })).rejects.toMatchObject(
      corrupt('recorded_at'),
    );
    await expect(store.query({ limit: 5 })).rejects.toMatchObject(corrupt('recorded_at'));
    await backend.execute(`UPDATE ${backend.table('audit_heads')} SET archived_through = -1`);
    await expect(store.heads()).rejects.toMatchObject(corrupt('archived_through'));
    await backend.execute(`UPDATE ${backend.table('audit_checkpoints')} SET algorithm = 'rot13'`);
    await expect(store.checkpoints({ chain: 'g', afterSeq: 0, limit: 5 })).rejects.toMatchObject(
      corrupt('algorithm'),
    );
  });

  it('SQLite lineage records', async () => {
    const backend = createSqliteBackend({ database: new Database(':memory:') });
    const store = createSqliteLineageStore({ backend });
    await store.migrate();
    const id = '01JDQ3V8Z6X0M9K2T4B7N5C1PA';
    await store.append([orderTotalRecord(id)]);
    const corrupt = (field: string) => ({
      name: 'FlowproofError',
      code: 'STORE_DATA_CORRUPT',
      details: { backend: 'sqlite', component: 'lineage', id, field },
      message: expect.not.stringContaining('soon'),
    });
    const table = backend.table('lineage_records');
    await backend.execute(`UPDATE ${table} SET body = X'7B7D'`);
    await expect(store.latest('order:1', 'total')).rejects.toMatchObject(corrupt('body'));
    await backend.execute(`UPDATE ${table} SET body = '{}', recorded_at = 'soon'`);
    await expect(store.byCorrelation({ correlationId: 'c-1', limit: 5 })).rejects.toMatchObject(
      corrupt('recorded_at'),
    );
    await expect(
      store.history({ entity: 'order:1', field: 'total', limit: 5 }),
    ).rejects.toMatchObject(corrupt('recorded_at'));
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

  it('SQLite outbox payloads, headers and last errors', async () => {
    const backend = createSqliteBackend({ database: new Database(':memory:') });
    const store = createSqliteOutboxStore({ backend });
    await store.migrate();
    await store.enqueue([{ id: 'm-1', topic: 't', key: 'k', payload: {}, headers: {} }]);
    const table = backend.table('outbox_messages');
    const corrupt = (field: string) => ({
      name: 'FlowproofError',
      code: 'STORE_DATA_CORRUPT',
      details: { backend: 'sqlite', component: 'outbox', id: 'm-1', field },
      message: expect.not.stringContaining('{secret'),
      cause: expect.any(SyntaxError),
    });
    for (const field of ['payload', 'headers', 'last_error']) {
      await backend.execute(
        `UPDATE ${table} SET payload = '{}', headers = '{}', last_error = NULL`,
      );
      await backend.execute(`UPDATE ${table} SET ${field} = '{secret'`);
      await expect(store.get('m-1')).rejects.toMatchObject(corrupt(field));
      await expect(store.list({ status: 'pending', limit: 5 })).rejects.toMatchObject(
        corrupt(field),
      );
    }
    await expect(store.claim({ owner: 'r', leaseMs: 1000, limit: 5 })).rejects.toMatchObject(
      corrupt('last_error'),
    );
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

/** One PGlite for the saga-store tests (starting one is slow); each test uses its own schema. */
let pglite: PGlite | undefined;
function sharedPGlite(): PGlite {
  pglite ??= new PGlite();
  return pglite;
}

describe('saga stores keep any JSON log exactly', () => {
  const stores = {
    memory: () => createMemorySagaStore({ backend: createMemoryBackend() }),
    SQLite: () =>
      createSqliteSagaStore({
        backend: createSqliteBackend({ database: new Database(':memory:') }),
      }),
    PGlite: () =>
      createPostgresSagaStore({
        backend: createPostgresBackend({ client: sharedPGlite(), schema: uniqueNamespace('saga') }),
      }),
  };
  it.each(Object.entries(stores))(
    '%s',
    async (_, open) => {
      const store = open();
      await store.migrate();
      let n = 0;
      await fc.assert(
        // NUL is refused in every store (PostgreSQL's jsonb cannot hold it).
        fc.asyncProperty(
          fc.jsonValue().filter((v) => !JSON.stringify(v).includes('\\u0000')),
          async (log) => {
            n += 1;
            const id = `s-${n}`;
            await store.create({ id, name: 'p', version: 1, status: 'running', log });
            // JSON has one zero: -0 is kept as 0.
            expect((await store.get(id))?.log).toEqual(JSON.parse(JSON.stringify(log)));
          },
        ),
        { numRuns: 200 },
      );
      await store.close();
    },
    120_000,
  );
});

describe('outbox stores keep any JSON payload and any string headers exactly', () => {
  const stores = {
    memory: () => createMemoryOutboxStore({ backend: createMemoryBackend() }),
    SQLite: () =>
      createSqliteOutboxStore({
        backend: createSqliteBackend({ database: new Database(':memory:') }),
      }),
    PGlite: () =>
      createPostgresOutboxStore({
        backend: createPostgresBackend({
          client: sharedPGlite(),
          schema: uniqueNamespace('outbox'),
        }),
      }),
  };
  const noNul = (v: unknown) => !JSON.stringify(v).includes('\\u0000');
  it.each(Object.entries(stores))(
    '%s',
    async (_, open) => {
      const store = open();
      await store.migrate();
      let n = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.array(
            fc.record({
              payload: fc.jsonValue().filter(noNul),
              headers: fc.dictionary(fc.string(), fc.string()).filter(noNul),
              key: fc.option(fc.string({ minLength: 1 }).filter(noNul)),
            }),
            { minLength: 1, maxLength: 4 },
          ),
          async (batch) => {
            const messages = batch.map((m) => {
              n += 1;
              return { id: `m-${n}`, topic: 't', ...m };
            });
            await store.enqueue(messages);
            for (const m of messages) {
              const stored = await store.get(m.id);
              // JSON has one zero: -0 is kept as 0.
              expect(stored?.payload).toEqual(JSON.parse(JSON.stringify(m.payload)));
              expect(stored?.headers).toEqual(m.headers);
              expect(stored?.key).toBe(m.key);
            }
          },
        ),
        { numRuns: 100 },
      );
      await store.close();
    },
    120_000,
  );
});

describe('SQL saga stores: one statement (one round trip) per operation', () => {
  const engines = {
    SQLite: () => createSqliteBackend({ database: new Database(':memory:') }),
    PGlite: () =>
      createPostgresBackend({ client: sharedPGlite(), schema: uniqueNamespace('saga') }),
  };

  it.each(Object.entries(engines))(
    '%s',
    async (_, open) => {
      const raw = open();
      const { backend, calls } = countedStatements(raw);
      const store =
        raw.kind === 'sqlite'
          ? createSqliteSagaStore({ backend: backend as typeof raw & { kind: 'sqlite' } })
          : createPostgresSagaStore({ backend: backend as typeof raw & { kind: 'postgres' } });
      await store.migrate();
      const trips = async (run: () => Promise<unknown>) => {
        const before = calls();
        await run();
        return calls() - before;
      };
      const saga = { id: 's', name: 'n', version: 1, status: 'running', log: { a: 1 } } as const;
      const request = { owner: 'r', leaseMs: 60_000, limit: 5, statuses: ['running'] } as const;
      const update = {
        id: 's',
        status: 'running',
        log: {},
        wakeInMs: 0,
        lease: 'release',
      } as const;
      const purge = { statuses: ['completed'], finishedBeforeMs: 0, limit: 5 } as const;
      expect(await trips(() => store.create(saga))).toBe(1);
      // Only when the id is taken: the second reads the saga that holds it.
      expect(await trips(() => store.create(saga))).toBe(2);
      expect(
        await trips(() => store.create({ ...saga, id: 'l' }, { owner: 'r', leaseMs: 1 })),
      ).toBe(1);
      expect(await trips(() => store.claim({ ...request, names: ['n'], ids: ['s'] }))).toBe(1);
      expect(await trips(() => store.heartbeat('s', { owner: 'r', token: 1 }, 1000))).toBe(1);
      expect(await trips(() => store.save(update, { owner: 'r', token: 1 }))).toBe(1);
      expect(await trips(() => store.get('s'))).toBe(1);
      expect(await trips(() => store.list({ statuses: ['running'], name: 'n', limit: 5 }))).toBe(1);
      expect(await trips(() => store.purge(purge))).toBe(1);
      expect(await trips(() => store.now())).toBe(1);
      await store.close();
      await raw.close();
    },
    120_000,
  );
});

describe('SQL saga store create() that can neither insert nor read the saga', () => {
  it('fails with BACKEND_ERROR after a few attempts instead of looping', async () => {
    const real = createSqliteBackend({ database: new Database(':memory:') });
    await createSqliteSagaStore({ backend: real }).migrate();
    // As a snapshot older than the saga holding the id sees it: the insert conflicts, the read
    // finds nothing.
    const blind = new Proxy(real, {
      get(target, key) {
        const value = Reflect.get(target, key, target);
        if (key === 'query') return async () => [];
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const store = createSqliteSagaStore({ backend: blind });
    const saga = { id: 's', name: 'n', version: 1, status: 'running', log: {} } as const;
    await expect(store.create(saga)).rejects.toMatchObject({
      code: 'BACKEND_ERROR',
      details: { backend: 'sqlite', reason: 'create-found-no-saga', id: 's' },
    });
  });
});
