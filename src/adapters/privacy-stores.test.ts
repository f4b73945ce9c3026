import { PGlite } from '@electric-sql/pglite';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { countedStatements } from '../../test/support/counted-statements.js';
import { expectNoEngineError, oddValue } from '../../test/support/odd-values.js';
import { unstorableText } from '../core/options.js';
import { uniqueNamespace } from '../testing/index.js';
import { dataKeyRow, type StoredDataKeyRow } from './data-key-store-input.js';
import {
  createMemoryBackend,
  createMemoryDataKeyStore,
  createMemoryTokenVaultStore,
} from './memory/index.js';
import {
  createPostgresBackend,
  createPostgresDataKeyStore,
  createPostgresTokenVaultStore,
} from './postgres/index.js';
import {
  createSqliteBackend,
  createSqliteDataKeyStore,
  createSqliteTokenVaultStore,
} from './sqlite/index.js';

const subjectKey = (name: string) => ({
  purpose: 'subject' as const,
  name,
  kekId: 'kek-1',
  wrapped: new Uint8Array([1, 2, 3]),
});
const token = { token: 't', tenant: '', type: 'card', subject: 's', ciphertext: 'c' };

let pglite: PGlite | undefined;
function sharedPGlite(): PGlite {
  pglite ??= new PGlite();
  return pglite;
}
afterAll(() => pglite?.close());

describe('privacy stores on PostgreSQL: one statement (one round trip) per operation', () => {
  it('data keys and tokens', async () => {
    const raw = createPostgresBackend({ client: sharedPGlite(), schema: uniqueNamespace('pk') });
    const { backend, calls } = countedStatements(raw);
    const keys = createPostgresDataKeyStore({ backend });
    const tokens = createPostgresTokenVaultStore({ backend });
    await keys.migrate();
    await tokens.migrate();
    const trips = async (run: () => Promise<unknown>) => {
      const before = calls();
      await run();
      return calls() - before;
    };
    const field = {
      purpose: 'field' as const,
      name: null,
      kekId: 'k',
      wrapped: new Uint8Array([1]),
    };
    expect(await trips(() => keys.create(field))).toBe(1);
    expect(await trips(() => keys.create(subjectKey('alice')))).toBe(1);
    // Also when the name is taken: the same statement reads the key that holds it.
    expect(await trips(() => keys.create(subjectKey('alice')))).toBe(1);
    expect(await trips(() => keys.shred('alice'))).toBe(1);
    expect(await trips(() => keys.shred('bob'))).toBe(1);
    expect(await trips(() => keys.retire(1))).toBe(1);
    const rewrap = { id: 1, expectKekId: 'k', kekId: 'k2', wrapped: new Uint8Array([2]) };
    expect(await trips(() => keys.rewrap(rewrap))).toBe(1);
    expect(await trips(() => keys.saveCursor('job', 'c'))).toBe(1);
    expect(await trips(() => tokens.put(token))).toBe(1);
    expect(await trips(() => tokens.put(token))).toBe(1);
    expect(await trips(() => tokens.deleteBySubject('s', 10))).toBe(1);
  }, 60_000);
});

describe('an insert that can neither store nor read back its row', () => {
  // The row holding the key is invisible to the caller's snapshot both times (a repeatable-read
  // transaction older than it): a typed backend error after one more try, not a loop.
  const noRows = () => {
    let statements = 0;
    const client = {
      query: async () => {
        statements += 1;
        return { rows: [] };
      },
    };
    return { backend: createPostgresBackend({ client }), statements: () => statements };
  };
  const expected = {
    name: 'FlowproofError',
    code: 'BACKEND_ERROR',
    details: { backend: 'postgres', reason: 'insert-found-no-row' },
  };

  it('is BACKEND_ERROR from create() of a named key, after two statements', async () => {
    const { backend, statements } = noRows();
    await expect(
      createPostgresDataKeyStore({ backend }).create(subjectKey('a')),
    ).rejects.toMatchObject(expected);
    expect(statements()).toBe(2);
  });

  it('is BACKEND_ERROR from put() of a token, after two statements', async () => {
    const { backend, statements } = noRows();
    await expect(createPostgresTokenVaultStore({ backend }).put(token)).rejects.toMatchObject(
      expected,
    );
    expect(statements()).toBe(2);
  });
});

describe('stored privacy data a store cannot decode is STORE_DATA_CORRUPT, naming the record', () => {
  const corrupt = (component: string, id: string, field: string) => ({
    name: 'FlowproofError',
    code: 'STORE_DATA_CORRUPT',
    details: { backend: 'sqlite', component, id, field },
  });

  it('SQLite data keys and cursors', async () => {
    const backend = createSqliteBackend({ database: new Database(':memory:') });
    const store = createSqliteDataKeyStore({ backend });
    await store.migrate();
    const { key } = await store.create(subjectKey('alice'));
    const id = String(key.id);
    const table = backend.table('privacy_data_keys');
    await backend.execute(`UPDATE ${table} SET wrapped = 'text'`);
    await expect(store.get(key.id)).rejects.toMatchObject(corrupt('privacy-keys', id, 'wrapped'));
    await backend.execute(`UPDATE ${table} SET wrapped = X'01', kek_id = NULL`);
    await expect(store.byName('subject', 'alice')).rejects.toMatchObject(
      corrupt('privacy-keys', id, 'kek_id'),
    );
    await backend.execute(`UPDATE ${table} SET kek_id = 'k', created_at = 'soon'`);
    await expect(store.list({ purpose: 'subject', limit: 5 })).rejects.toMatchObject(
      corrupt('privacy-keys', id, 'created_at'),
    );
    // A tombstone that still holds bytes is not one.
    await backend.execute(`UPDATE ${table} SET created_at = 1, shredded_at = 2`);
    await expect(store.get(key.id)).rejects.toMatchObject(corrupt('privacy-keys', id, 'kek_id'));
    await store.saveCursor('job', 'c');
    await backend.execute(`UPDATE ${backend.table('privacy_job_cursors')} SET cursor = X'00'`);
    await expect(store.loadCursor('job')).rejects.toMatchObject(
      corrupt('privacy-keys', 'job', 'cursor'),
    );
  });

  it('SQLite tokens', async () => {
    const backend = createSqliteBackend({ database: new Database(':memory:') });
    const store = createSqliteTokenVaultStore({ backend });
    await store.migrate();
    await store.put(token);
    const table = backend.table('privacy_tokens');
    await backend.execute(`UPDATE ${table} SET ciphertext = X'00'`);
    await expect(store.get('t')).rejects.toMatchObject(
      corrupt('privacy-tokens', 't', 'ciphertext'),
    );
    await backend.execute(`UPDATE ${table} SET ciphertext = 'c', created_at = -1`);
    await expect(store.put(token)).rejects.toMatchObject(
      corrupt('privacy-tokens', 't', 'created_at'),
    );
  });

  it('a stored key row decodes only when every column is what a key holds', () => {
    const good: StoredDataKeyRow = {
      id: '7',
      purpose: 'subject',
      name: 'alice',
      kek_id: 'k',
      wrapped: new Uint8Array([1]),
      created_at: 5n,
      retired_at: null,
      shredded_at: null,
    };
    expect(dataKeyRow(good, 'postgres')).toEqual({
      id: 7,
      purpose: 'subject',
      name: 'alice',
      kekId: 'k',
      wrapped: new Uint8Array([1]),
      createdAt: 5,
      retiredAt: null,
      shreddedAt: null,
    });
    const columns = Object.keys(good) as (keyof StoredDataKeyRow)[];
    fc.assert(
      fc.property(
        fc.constantFrom(...columns),
        fc.oneof(
          fc.constant(undefined),
          fc.string(),
          fc.double(),
          fc.constant(2 ** 32),
          fc.constant(-1),
          fc.boolean(),
        ),
        (column, value) => {
          const row = { ...good, [column]: value };
          let decoded: unknown;
          try {
            decoded = dataKeyRow(row, 'postgres');
          } catch (error) {
            expect(error).toMatchObject({ code: 'STORE_DATA_CORRUPT' });
            return;
          }
          // Anything else decodes only to what a key may hold.
          const { id, createdAt } = decoded as { id: number; createdAt: number };
          expect(Number.isInteger(id) && id >= 1 && id <= 2 ** 32 - 1).toBe(true);
          expect(Number.isSafeInteger(createdAt) && createdAt >= 0).toBe(true);
        },
      ),
    );
  });
});

describe('memory data-key store ids', () => {
  it('an id taken in a rolled-back transaction is never handed out again', async () => {
    const backend = createMemoryBackend();
    const store = createMemoryDataKeyStore({ backend });
    await store.migrate();
    const first = (await store.create(subjectKey('a'))).key;
    let inside = 0;
    await expect(
      backend.transaction(async (tx) => {
        inside = (await store.withBackend(tx).create(subjectKey('b'))).key.id;
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect(inside).toBe(first.id + 1);
    expect(await store.get(inside)).toBeUndefined();
    expect((await store.create(subjectKey('c'))).key.id).toBe(inside + 1);
  });
});

describe('privacy stores keep any name, bytes and text exactly', () => {
  // Storable text: no NUL, no lone surrogate (the input checks refuse those).
  const text = (minLength: number) =>
    fc
      .string({ unit: 'binary', minLength, maxLength: 40 })
      .filter((s) => unstorableText(s) === undefined);
  const engines = {
    memory: () => createMemoryBackend(),
    SQLite: () => createSqliteBackend({ database: new Database(':memory:') }),
    PGlite: () => createPostgresBackend({ client: sharedPGlite(), schema: uniqueNamespace('pk') }),
  };

  it.each(Object.entries(engines))(
    '%s',
    async (_, open) => {
      const backend = open();
      const keys =
        backend.kind === 'memory'
          ? createMemoryDataKeyStore({ backend })
          : backend.kind === 'sqlite'
            ? createSqliteDataKeyStore({ backend })
            : createPostgresDataKeyStore({ backend });
      const tokens =
        backend.kind === 'memory'
          ? createMemoryTokenVaultStore({ backend })
          : backend.kind === 'sqlite'
            ? createSqliteTokenVaultStore({ backend })
            : createPostgresTokenVaultStore({ backend });
      await keys.migrate();
      await tokens.migrate();
      // Names repeat across runs (fast-check shrinks towards short strings); a second create
      // under a name finds the first key, so the expected bytes are the first ones written.
      const firstWrapped = new Map<string, Uint8Array>();
      await fc.assert(
        fc.asyncProperty(
          text(1),
          fc.uint8Array({ minLength: 1, maxLength: 300 }),
          text(0),
          text(1),
          async (name, wrapped, tenant, ciphertext) => {
            const { key, created } = await keys.create({
              purpose: 'index',
              name,
              kekId: name,
              wrapped,
            });
            expect(created).toBe(!firstWrapped.has(name));
            if (created) firstWrapped.set(name, wrapped);
            const read = await keys.byName('index', name);
            expect(read?.id).toBe(key.id);
            expect(read?.kekId).toBe(name);
            expect([...(read?.wrapped ?? [])]).toEqual([...(firstWrapped.get(name) ?? [])]);
            const put = { token: name, tenant, type: name, subject: name, ciphertext };
            const { row } = await tokens.put(put);
            expect(await tokens.get(name)).toEqual(row);
            expect(row).toEqual({ ...put, createdAt: row.createdAt });
            expect(await tokens.deleteBySubject(name, 5)).toBe(1);
          },
        ),
        { numRuns: 25 },
      );
      await backend.close();
    },
    120_000,
  );
});

describe('odd arguments to every entry of the privacy stores', () => {
  it('are TypeErrors naming the argument or FlowproofErrors (property)', async () => {
    const backend = createMemoryBackend();
    const keys = createMemoryDataKeyStore({ backend });
    const tokens = createMemoryTokenVaultStore({ backend });
    await keys.migrate();
    await tokens.migrate();
    const field = { purpose: 'field', name: null, kekId: 'k', wrapped: new Uint8Array([1]) };
    await fc.assert(
      fc.asyncProperty(oddValue, async (make) => {
        await expectNoEngineError('options', () => createMemoryDataKeyStore(make() as never));
        await expectNoEngineError('options', () => createSqliteTokenVaultStore(make() as never));
        await expectNoEngineError('key', () => keys.create(make() as never));
        await expectNoEngineError('key', () => keys.create({ ...field, kekId: make() } as never));
        await expectNoEngineError('id', () => keys.get(make() as never));
        await expectNoEngineError('purpose', () => keys.byName(make() as never, 'x'));
        await expectNoEngineError('name', () => keys.byName('subject', make() as never));
        await expectNoEngineError('read', () => keys.list(make() as never));
        await expectNoEngineError('change', () => keys.rewrap(make() as never));
        await expectNoEngineError('id', () => keys.retire(make() as never));
        await expectNoEngineError('subject', () => keys.shred(make() as never));
        await expectNoEngineError('job', () => keys.loadCursor(make() as never));
        await expectNoEngineError('cursor', () => keys.saveCursor('job', make() as never));
        await expectNoEngineError('token', () => tokens.put(make() as never));
        await expectNoEngineError('token', () => tokens.get(make() as never));
        await expectNoEngineError('subject', () => tokens.deleteBySubject(make() as never, 1));
        await expectNoEngineError('limit', () => tokens.deleteBySubject('s', make() as never));
      }),
      { numRuns: 200 },
    );
  });
});
