import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { entityInsert } from '../../../test/support/entity-rows.js';
import { sleep } from '../../core/async.js';
import { createManualClock } from '../../core/clock.js';
import { createSqliteBackend } from './sqlite-backend.js';
import { createSqliteEntityStore } from './sqlite-entity-store.js';
import { createSqliteIdempotencyStore } from './sqlite-idempotency-store.js';

const closed = expect.objectContaining({ code: 'BACKEND_CLOSED' });
const ended = expect.objectContaining({
  code: 'BACKEND_CLOSED',
  message: expect.stringMatching(/transaction.*ended/),
});

async function tableT() {
  const database = new Database(':memory:');
  database.exec('CREATE TABLE t (v TEXT)');
  const rows = () => (database.prepare('SELECT v FROM t').all() as { v: string }[]).map((r) => r.v);
  return { database, rows };
}

const dir = mkdtempSync(join(tmpdir(), 'flowproof-sqlite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('createSqliteBackend', () => {
  it('names the offending option', () => {
    const database = new Database(':memory:');
    expect(() => createSqliteBackend({} as never)).toThrow(/options.database/);
    expect(() => createSqliteBackend({ database, tablePrefix: 'a b' })).toThrow(/tablePrefix/);
    expect(() => createSqliteBackend({ database, busyTimeoutMs: -1 })).toThrow(/busyTimeoutMs/);
    expect(() => createSqliteBackend({ database, clock: {} as never })).toThrow(/clock/);
  });

  it('reports a write blocked by another connection past the busy timeout as BACKEND_TIMEOUT', async () => {
    const file = join(dir, 'busy.db');
    const holder = new Database(file);
    holder.exec('CREATE TABLE t (id TEXT)');
    const backend = createSqliteBackend({ database: new Database(file), busyTimeoutMs: 50 });
    holder.exec('BEGIN IMMEDIATE');
    try {
      await expect(backend.execute("INSERT INTO t VALUES ('x')")).rejects.toMatchObject({
        code: 'BACKEND_TIMEOUT',
        details: { sqliteCode: 'SQLITE_BUSY' },
      });
    } finally {
      holder.exec('ROLLBACK');
    }
    expect(await backend.execute("INSERT INTO t VALUES ('x')")).toBe(1);
  });

  it('keeps work started outside a transaction out of it', async () => {
    const backend = createSqliteBackend({ database: new Database(':memory:') });
    await backend.execute('CREATE TABLE t (id TEXT PRIMARY KEY)');
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const failing = backend.transaction(async (tx) => {
      await tx.execute("INSERT INTO t VALUES ('inside')");
      await gate;
      throw new Error('roll back');
    });
    const outside = backend.execute("INSERT INTO t VALUES ('outside')");
    release();
    await expect(failing).rejects.toThrow('roll back');
    await outside;
    const rows = await backend.query<{ id: string }>('SELECT id FROM t');
    expect(rows.map((r) => r.id)).toEqual(['outside']);
  });

  it('joins only a transaction that is really open', async () => {
    const database = new Database(':memory:');
    const backend = createSqliteBackend({ database });
    expect(() => backend.joinOpenTransaction()).toThrow(
      expect.objectContaining({ code: 'TRANSACTION_UNSUPPORTED' }),
    );
    database.exec('BEGIN');
    expect(backend.joinOpenTransaction().inTransaction).toBe(true);
    database.exec('ROLLBACK');
  });

  it('reports missing tables as SCHEMA_OUTDATED and uses an injected clock', async () => {
    const clock = createManualClock('2030-01-01T00:00:00Z');
    const backend = createSqliteBackend({ database: new Database(':memory:'), clock });
    await expect(backend.query(`SELECT * FROM ${backend.table('missing')}`)).rejects.toMatchObject({
      code: 'SCHEMA_OUTDATED',
    });
    expect((await backend.now()).toISOString()).toBe('2030-01-01T00:00:00.000Z');
  });

  it('reports a database its owner closed as BACKEND_CLOSED on every path, stores included', async () => {
    const database = new Database(':memory:');
    const backend = createSqliteBackend({ database });
    const keys = createSqliteIdempotencyStore({ backend });
    const entities = createSqliteEntityStore({ backend });
    await keys.migrate();
    await entities.migrate();
    database.close();
    const { entity, history } = entityInsert('m', 'e1');
    const paths: Record<string, () => unknown> = {
      create: () => createSqliteBackend({ database }),
      query: () => backend.query('SELECT 1'),
      execute: () => backend.execute('SELECT 1'),
      now: () => backend.now(),
      transaction: () => backend.transaction(async () => 1),
      migrate: () => keys.migrate(),
      schemaVersion: () => backend.schemaVersion('idempotency'),
      joinOpenTransaction: () => backend.joinOpenTransaction(),
      claim: () =>
        keys.claim({
          key: 'k',
          fingerprint: 'f',
          leaseMs: 1000,
          retentionMs: 1000,
          reclaimStarted: false,
        }),
      get: () => keys.get('k'),
      complete: () => keys.complete('k', 1, 'r', 1000),
      deleteExpired: () => keys.deleteExpired(10),
      load: () => entities.load('m', 'e1'),
      insert: () => entities.insert({ entity, history }),
      listHistory: () =>
        entities.listHistory({ machineId: 'm', entityId: 'e1', afterStateVersion: 0, limit: 10 }),
      dueTimers: () => entities.dueTimers('m', new Date(), 10),
    };
    for (const [path, run] of Object.entries(paths)) {
      const error = await (async () => run())().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error, path).toMatchObject({
        name: 'FlowproofError',
        code: 'BACKEND_CLOSED',
        message: expect.stringMatching(/closed by its owner/),
      });
    }
  });

  it('closes the database it owns', async () => {
    const database = new Database(':memory:');
    const backend = createSqliteBackend({ database, ownsDatabase: true });
    await backend.close();
    expect(database.open).toBe(false);
  });
  it('closes only itself when a transaction-bound backend is closed, and the owner still closes the database', async () => {
    const { database, rows } = await tableT();
    const backend = createSqliteBackend({ database, ownsDatabase: true });
    await backend.transaction(async (tx) => {
      await tx.execute("INSERT INTO t VALUES ('x')");
      await tx.close();
      await expect(tx.execute("INSERT INTO t VALUES ('y')")).rejects.toThrow(closed);
    });
    expect(rows()).toEqual(['x']);
    expect(await backend.execute("INSERT INTO t VALUES ('z')")).toBe(1);
    await backend.close();
    expect(database.open).toBe(false);
  });

  it('closes only itself when a joined backend is closed', async () => {
    const { database } = await tableT();
    const backend = createSqliteBackend({ database, ownsDatabase: true });
    database.exec('BEGIN');
    const joined = backend.joinOpenTransaction();
    await joined.close();
    await expect(joined.execute("INSERT INTO t VALUES ('x')")).rejects.toThrow(closed);
    database.exec('COMMIT');
    expect(await backend.query('SELECT v FROM t')).toEqual([]);
    await backend.close();
    expect(database.open).toBe(false);
  });

  it('refuses a transaction-bound backend used after its transaction ended', async () => {
    const { database, rows } = await tableT();
    const backend = createSqliteBackend({ database });
    let leaked: typeof backend | undefined;
    let leakedSavepoint: typeof backend | undefined;
    await backend.transaction(async (tx) => {
      leaked = tx;
      await tx.transaction(async (sp) => {
        leakedSavepoint = sp;
      });
      // The savepoint ended; its transaction goes on.
      await expect(leakedSavepoint?.execute("INSERT INTO t VALUES ('sp')")).rejects.toThrow(ended);
      await tx.execute("INSERT INTO t VALUES ('inside')");
    });
    if (!leaked) throw new Error('unreachable');
    const later = backend.transaction(async (tx) => {
      await tx.execute("INSERT INTO t VALUES ('later')");
      await sleep(20);
      throw new Error('later fails');
    });
    await sleep(5);
    await expect(leaked.execute("INSERT INTO t VALUES ('leaked')")).rejects.toThrow(ended);
    await expect(leaked.transaction(async () => 1)).rejects.toThrow(ended);
    await expect(later).rejects.toThrow('later fails');
    expect(rows()).toEqual(['inside']);
  });

  it('refuses a joined backend used after the transaction it joined ended', async () => {
    const { database } = await tableT();
    const backend = createSqliteBackend({ database });
    database.exec('BEGIN');
    const joined = backend.joinOpenTransaction();
    expect(await joined.execute("INSERT INTO t VALUES ('x')")).toBe(1);
    database.exec('COMMIT');
    await expect(joined.execute("INSERT INTO t VALUES ('y')")).rejects.toThrow(ended);
  });
});
