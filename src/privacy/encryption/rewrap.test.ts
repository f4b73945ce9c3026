import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { createMemoryBackend, createMemoryDataKeyStore } from '../../adapters/memory/index.js';
import { createSqliteBackend } from '../../adapters/sqlite/index.js';
import type { EncryptionContext } from './ciphertext-format.js';
import { createFieldEncryption } from './field-encryption.js';
import type { KeyProvider } from './key-provider.js';
import { createLocalKeyProvider } from './local-key-provider.js';
import type { RewrapReport, RewrapRow, RewrapSource, RewrapUpdate } from './rewrap.js';
import { createSqliteRewrapSource } from './sql-rewrap-source.js';

const kek1 = randomBytes(32);
const kek2 = randomBytes(32);

async function setup(
  keyProvider: KeyProvider = createLocalKeyProvider({ keys: { k1: kek1 }, current: 'k1' }),
) {
  const store = createMemoryDataKeyStore({ backend: createMemoryBackend() });
  await store.migrate();
  return { store, encryption: createFieldEncryption({ store, keyProvider }) };
}

const contextOf = (id: number): EncryptionContext => ({
  table: 'users',
  column: 'email',
  row: String(id),
});

/** An in-memory table: id → ciphertext, ordered by id, with a hook before each update. */
function memoryTable(
  values: Map<number, string>,
  beforeUpdate?: (rows: readonly RewrapUpdate[]) => void,
) {
  let pages = 0;
  const source: RewrapSource = {
    async page(after, limit) {
      pages++;
      const from = after === null ? 0 : Number(after);
      return [...values.keys()]
        .filter((id) => id > from)
        .sort((a, b) => a - b)
        .slice(0, limit)
        .map(
          (id): RewrapRow => ({
            cursor: String(id),
            ciphertext: values.get(id) as string,
            context: contextOf(id),
          }),
        );
    },
    async update(rows) {
      beforeUpdate?.(rows);
      let changed = 0;
      for (const row of rows) {
        const id = Number(row.cursor);
        if (values.get(id) === row.ciphertext) {
          values.set(id, row.rewrapped);
          changed++;
        }
      }
      return changed;
    },
  };
  return { source, pages: () => pages };
}

describe('rewrap', () => {
  it('re-encrypts every value onto the newest field key; values stay readable; skips what is done', async () => {
    const { encryption } = await setup();
    const values = new Map<number, string>();
    for (let id = 1; id <= 25; id++)
      values.set(id, await encryption.encrypt(`user${id}@example.com`, contextOf(id)));
    // A subject's value: subject keys do not rotate.
    values.set(26, await encryption.encrypt('subject', { ...contextOf(26), subject: 'ana' }));
    const { keyId } = await encryption.rotate();
    values.set(27, await encryption.encrypt('already new', contextOf(27)));
    const progress: RewrapReport[] = [];
    const report = await encryption.rewrap(memoryTable(values).source, {
      job: 'users.email',
      batchSize: 10,
      onProgress: (p) => progress.push(p),
    });
    expect(report).toEqual({
      scanned: 27,
      rewrapped: 25,
      skipped: 2,
      conflicts: 0,
      unreadable: 0,
      keyId,
      cursor: null,
    });
    expect(progress.map((p) => p.cursor)).toEqual(['10', '20', '27']);
    for (let id = 1; id <= 25; id++) {
      const stored = values.get(id) as string;
      expect(encryption.keyIdOf(stored)).toBe(keyId);
      expect(await encryption.decrypt(stored, contextOf(id))).toBe(`user${id}@example.com`);
    }
    // Nothing left on key 1: it can be retired.
    await encryption.retire(1);
    expect(await encryption.decrypt(values.get(3) as string, contextOf(3))).toBe(
      'user3@example.com',
    );
  });

  it('resumes after the last saved batch when a run dies', async () => {
    const { encryption, store } = await setup();
    const values = new Map<number, string>();
    for (let id = 1; id <= 30; id++)
      values.set(id, await encryption.encrypt(`v${id}`, contextOf(id)));
    await encryption.rotate();
    let updates = 0;
    const crashing = memoryTable(values, () => {
      if (++updates === 3) throw new Error('process killed');
    });
    await expect(encryption.rewrap(crashing.source, { job: 'j', batchSize: 5 })).rejects.toThrow(
      'process killed',
    );
    expect(await store.loadCursor('j')).toBe('10');
    const resumed = memoryTable(values);
    const report = await encryption.rewrap(resumed.source, { job: 'j', batchSize: 5 });
    expect(report).toMatchObject({ scanned: 20, rewrapped: 20, skipped: 0 });
    expect(resumed.pages()).toBe(5);
    expect(await store.loadCursor('j')).toBeUndefined();
    for (let id = 1; id <= 30; id++) expect(encryption.keyIdOf(values.get(id) as string)).toBe(2);
  });

  it('stops between batches on abort, keeping its position', async () => {
    const { encryption, store } = await setup();
    const values = new Map<number, string>();
    for (let id = 1; id <= 20; id++)
      values.set(id, await encryption.encrypt(`v${id}`, contextOf(id)));
    await encryption.rotate();
    const controller = new AbortController();
    const run = encryption.rewrap(memoryTable(values).source, {
      job: 'abort',
      batchSize: 5,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.cursor === '10') controller.abort(new Error('stop'));
      },
    });
    await expect(run).rejects.toThrow('stop');
    expect(await store.loadCursor('abort')).toBe('10');
  });

  it('never clobbers a concurrent write (compare-and-set) and counts it as a conflict', async () => {
    const { encryption } = await setup();
    const values = new Map<number, string>();
    for (let id = 1; id <= 4; id++)
      values.set(id, await encryption.encrypt(`v${id}`, contextOf(id)));
    await encryption.rotate();
    const fresh = await encryption.encrypt('written meanwhile', contextOf(2));
    const table = memoryTable(values, () => values.set(2, fresh));
    const report = await encryption.rewrap(table.source, { job: 'cas' });
    expect(report).toMatchObject({ scanned: 4, rewrapped: 3, conflicts: 1 });
    expect(await encryption.decrypt(values.get(2) as string, contextOf(2))).toBe(
      'written meanwhile',
    );
  });

  it('leaves unreadable values (shredded, tampered, not ciphertexts) as they are and counts them', async () => {
    const { encryption } = await setup();
    const values = new Map<number, string>([
      [1, await encryption.encrypt('fine', contextOf(1))],
      [2, await encryption.encrypt('gone', { ...contextOf(2), subject: 'bob' })],
      [3, 'plain text, never encrypted'],
      [4, await encryption.encrypt('moved', contextOf(99))],
    ]);
    await encryption.shred('bob');
    await encryption.rotate();
    const before = new Map(values);
    const report = await encryption.rewrap(memoryTable(values).source, { job: 'mixed' });
    // The shredded subject's value is under a subject key: skipped without reading its key.
    expect(report).toMatchObject({ scanned: 4, rewrapped: 1, skipped: 1, unreadable: 2 });
    for (const id of [2, 3, 4]) expect(values.get(id)).toBe(before.get(id));
  });

  it('reads no key per row for subjects’ values (a table of many subjects costs no key reads)', async () => {
    const { encryption, store } = await setup();
    const values = new Map<number, string>();
    for (let id = 1; id <= 40; id++) {
      values.set(id, await encryption.encrypt(`v${id}`, { ...contextOf(id), subject: `s${id}` }));
    }
    await encryption.rotate();
    let reads = 0;
    const counting = new Proxy(store, {
      get(target, name, receiver) {
        const value = Reflect.get(target, name, receiver);
        if (name === 'get' || name === 'byName') {
          return (...args: unknown[]) => {
            reads++;
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          };
        }
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const fresh = createFieldEncryption({
      store: counting,
      keyProvider: createLocalKeyProvider({ keys: { k1: kek1 }, current: 'k1' }),
    });
    const report = await fresh.rewrap(memoryTable(values).source, {
      job: 'subjects',
      batchSize: 8,
    });
    expect(report).toMatchObject({ scanned: 40, skipped: 40, rewrapped: 0 });
    expect(reads).toBe(0);
  });

  it('keeps deterministic values deterministic', async () => {
    const { encryption } = await setup();
    const context = { table: 'users', column: 'ssn' };
    const values = new Map([[1, await encryption.encryptDeterministic('123', context)]]);
    await encryption.rotate();
    const table: RewrapSource = {
      ...memoryTable(values).source,
      page: async (after) =>
        after === null ? [{ cursor: '1', ciphertext: values.get(1) as string, context }] : [],
    };
    await encryption.rewrap(table, { job: 'det' });
    expect(values.get(1)).toBe(await encryption.encryptDeterministic('123', context));
  });

  it('checks its options', async () => {
    const { encryption } = await setup();
    const { source } = memoryTable(new Map());
    await expect(encryption.rewrap(source, {} as never)).rejects.toThrow(/options\.job/);
    await expect(encryption.rewrap(source, { job: 'j', batchSize: 0 })).rejects.toThrow(
      /options\.batchSize/,
    );
    await expect(encryption.rewrap(source, { job: 'j', bachSize: 5 } as never)).rejects.toThrow(
      /options\.bachSize/,
    );
    await expect(encryption.rewrap({} as never, { job: 'j' })).rejects.toThrow(/source/);
  });

  it('a source giving a malformed context is a TypeError, never "unreadable" values', async () => {
    // Counted unreadable, the values would look safe to lose by retiring their key.
    const { encryption } = await setup();
    const values = new Map([[1, await encryption.encrypt('a@example.com', contextOf(1))]]);
    await encryption.rotate();
    for (const context of [5, { table: 'users', column: 'email', rows: '1' }]) {
      const { source } = memoryTable(values);
      const malformed: RewrapSource = {
        page: async (after, limit) =>
          (await source.page(after, limit)).map((row) => ({ ...row, context: context as never })),
        update: source.update,
      };
      await expect(encryption.rewrap(malformed, { job: `j-${typeof context}` })).rejects.toThrow(
        expect.objectContaining({
          name: 'TypeError',
          message: expect.stringMatching(/\bcontext\b/),
        }),
      );
    }
    expect(await encryption.decrypt(values.get(1) as string, contextOf(1))).toBe('a@example.com');
  });
});

describe('createSqliteRewrapSource', () => {
  it('rewraps a SQLite column in key order, compare-and-set', async () => {
    const { encryption } = await setup();
    const database = new Database(':memory:');
    database.exec('CREATE TABLE users (id INTEGER PRIMARY KEY, tenant TEXT, email TEXT)');
    const insert = database.prepare('INSERT INTO users (id, tenant, email) VALUES (?, ?, ?)');
    for (let id = 1; id <= 23; id++) {
      const context = { table: 'users', column: 'email', row: `t${id % 3}/${id}` };
      insert.run(id, `t${id % 3}`, await encryption.encrypt(`u${id}`, context));
    }
    insert.run(24, 't0', null);
    await encryption.rotate();
    const backend = createSqliteBackend({ database });
    const source = createSqliteRewrapSource({
      backend,
      table: 'users',
      keyColumn: 'id',
      column: 'email',
      contextColumns: ['tenant'],
      context: (row) => ({
        table: 'users',
        column: 'email',
        row: `${String(row.tenant)}/${String(row.id)}`,
      }),
    });
    const report = await encryption.rewrap(source, { job: 'sqlite', batchSize: 7 });
    expect(report).toMatchObject({ scanned: 23, rewrapped: 23, unreadable: 0 });
    const rows = database
      .prepare('SELECT id, tenant, email FROM users WHERE email IS NOT NULL ORDER BY id')
      .all() as {
      id: number;
      tenant: string;
      email: string;
    }[];
    for (const row of rows) {
      expect(encryption.keyIdOf(row.email)).toBe(2);
      expect(
        await encryption.decrypt(row.email, {
          table: 'users',
          column: 'email',
          row: `${row.tenant}/${row.id}`,
        }),
      ).toBe(`u${row.id}`);
    }
    await backend.close();
  });

  it('refuses bad identifiers and options', () => {
    const backend = createSqliteBackend({ database: new Database(':memory:') });
    const base = {
      backend,
      table: 'users',
      keyColumn: 'id',
      column: 'email',
      context: () => contextOf(1),
    };
    expect(() => createSqliteRewrapSource({ ...base, table: 'users; DROP TABLE x' })).toThrow(
      /options\.table/,
    );
    expect(() => createSqliteRewrapSource({ ...base, column: 'a"b' })).toThrow(/options\.column/);
    expect(() => createSqliteRewrapSource({ ...base, context: 1 as never })).toThrow(
      /options\.context/,
    );
    expect(() => createSqliteRewrapSource({ ...base, colum: 'x' } as never)).toThrow(
      /options\.colum/,
    );
    expect(() => createSqliteRewrapSource({ ...base, backend: {} as never })).toThrow(
      /options\.backend/,
    );
  });
});

describe('rotateKeyEncryptionKey', () => {
  it('rewraps every data key onto the current key-encryption key; data stays readable', async () => {
    const old = createLocalKeyProvider({ keys: { k1: kek1 }, current: 'k1' });
    const { store, encryption } = await setup(old);
    const field = await encryption.encrypt('field', contextOf(1));
    const subject = await encryption.encrypt('subject', { ...contextOf(2), subject: 'ana' });
    await encryption.encrypt('x', { ...contextOf(3), subject: 'bob' });
    await encryption.blindIndex('x', { table: 't', column: 'c' });
    await encryption.shred('bob');
    const both = createLocalKeyProvider({ keys: { k1: kek1, k2: kek2 }, current: 'k2' });
    const rotating = createFieldEncryption({ store, keyProvider: both });
    const progress: unknown[] = [];
    const result = await rotating.rotateKeyEncryptionKey({
      batchSize: 1,
      onProgress: (p) => progress.push(p),
    });
    expect(result).toEqual({ kekId: 'k2', scanned: 4, rewrapped: 3 });
    expect(progress.length).toBeGreaterThan(2);
    // The old key-encryption key can go: a provider without it reads everything.
    const onlyNew = createFieldEncryption({
      store,
      keyProvider: createLocalKeyProvider({ keys: { k2: kek2 }, current: 'k2' }),
    });
    expect(await onlyNew.decrypt(field, contextOf(1))).toBe('field');
    expect(await onlyNew.decrypt(subject, contextOf(2))).toBe('subject');
    expect(await rotating.rotateKeyEncryptionKey()).toEqual({
      kekId: 'k2',
      scanned: 4,
      rewrapped: 0,
    });
    await expect(rotating.rotateKeyEncryptionKey({ batchSiz: 2 } as never)).rejects.toThrow(
      /options\.batchSiz/,
    );
  });

  it('stops on abort between pages; running it again finishes the job', async () => {
    const { store, encryption } = await setup();
    for (let i = 0; i < 5; i++)
      await encryption.encrypt('x', { ...contextOf(i), subject: `s${i}` });
    const both = createLocalKeyProvider({ keys: { k1: kek1, k2: kek2 }, current: 'k2' });
    const rotating = createFieldEncryption({ store, keyProvider: both });
    const controller = new AbortController();
    await expect(
      rotating.rotateKeyEncryptionKey({
        batchSize: 2,
        signal: controller.signal,
        onProgress: () => controller.abort(new Error('maintenance window over')),
      }),
    ).rejects.toThrow('maintenance window over');
    const partly = await store.list({ purpose: 'subject', limit: 10 });
    expect(partly.filter((row) => row.kekId === 'k2')).toHaveLength(2);
    expect(await rotating.rotateKeyEncryptionKey()).toMatchObject({ rewrapped: 3 });
  });

  it('fails with KEY_PROVIDER_FAILED when the old key-encryption key is gone', async () => {
    const { store, encryption } = await setup();
    await encryption.encrypt('x', contextOf(1));
    const onlyNew = createFieldEncryption({
      store,
      keyProvider: createLocalKeyProvider({ keys: { k2: kek2 }, current: 'k2' }),
    });
    await expect(onlyNew.rotateKeyEncryptionKey()).rejects.toMatchObject({
      code: 'KEY_PROVIDER_FAILED',
      details: { operation: 'unwrap', kekId: 'k1' },
    });
  });
});
