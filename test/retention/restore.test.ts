/**
 * Snapshot a database, erase subjects, restore the snapshot, `reapplyErasures()`: 100% of the
 * ledgered subjects erased again.
 *
 * The application's database (users, sessions, orders with a shipping address encrypted under
 * each subject's own data key, and the data-key store itself) is one SQLite file or one
 * PostgreSQL schema; the retention, audit and saga stores — the ledger — live elsewhere (another
 * file, another schema) and are not restored. 200 subjects; a snapshot (SQLite `db.backup()`;
 * PostgreSQL `pg_dump`/`pg_restore` when present, else — or with `RETENTION_RESTORE_BY_COPY=1` —
 * a copy of every table); 50 erased (rows
 * deleted, orders anonymized, data key shredded); the snapshot restored (the 50 are back, their
 * keys readable again); a new process (new connections, new field encryption, new retention
 * instance over the same ledger) runs `reapplyErasures()`. Then every ledgered subject is erased
 * again (rows gone, orders anonymized, its encrypted values `KEY_SHREDDED` to a fresh reader) and
 * every other subject is untouched and readable.
 *
 * Size: `RETENTION_PROOF_SCALE` × 200 subjects, a quarter of them erased.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createPostgresBackend,
  createPostgresDataKeyStore,
} from '../../src/adapters/postgres/index.js';
import { createSqliteBackend, createSqliteDataKeyStore } from '../../src/adapters/sqlite/index.js';
import { createAuditLog } from '../../src/audit/audit-log.js';
import { isFlowproofError } from '../../src/core/errors.js';
import type { DataKeyStore } from '../../src/privacy/data-key-store.js';
import {
  createFieldEncryption,
  type FieldEncryption,
} from '../../src/privacy/encryption/field-encryption.js';
import { createLocalKeyProvider } from '../../src/privacy/encryption/local-key-provider.js';
import { createRetention, type Retention } from '../../src/retention/create-retention.js';
import { createDataMap, type DataMap } from '../../src/retention/data-map.js';
import { subjectKeyLocation } from '../../src/retention/subject-key-location.js';
import { describeWithPostgres } from '../support/services.js';
import { type OpenedStores, openStores, type StoreTarget } from './fixtures/erasure-world.js';

const SCALE = Number(process.env.RETENTION_PROOF_SCALE ?? 1);
const SUBJECTS = Math.max(200, Math.round(200 * SCALE));
const ERASED = Math.floor(SUBJECTS / 4);
const PG_BIN = '/usr/lib/postgresql/15/bin';
const KEYS = createLocalKeyProvider({
  keys: { 'restore-kek': Buffer.alloc(32, 7).toString('base64') },
  current: 'restore-kek',
});

const subjectOf = (i: number) => `subject-${String(i).padStart(5, '0')}`;
const erasedSubject = (i: number) => i % 4 === 0;
const shipping = (i: number) => `${i} Main Street, Springfield`;
const shippingContext = (i: number) => ({ table: 'orders', column: 'shipping', row: String(i) });

/** The application's database, as one process opened it. */
interface AppDatabase {
  readonly backend: {
    query<R>(sql: string, params?: readonly unknown[]): Promise<R[]>;
    execute(sql: string, params?: readonly unknown[]): Promise<number>;
  };
  /** A table's name, qualified. */
  readonly t: (name: string) => string;
  /** The i-th (1-based) placeholder. */
  readonly p: (i: number) => string;
  readonly keys: DataKeyStore;
  close(): Promise<void>;
}

/** One engine: where the application lives, how it is snapshot and restored. */
interface Engine {
  readonly name: string;
  openApp(): Promise<AppDatabase>;
  snapshot(app: AppDatabase): Promise<string>;
  /** Closes `app`, puts the snapshot back; the caller opens the application again. */
  restore(app: AppDatabase): Promise<void>;
  readonly retention: StoreTarget;
  cleanup(): Promise<void>;
}

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function sqliteEngine(): Engine {
  const dir = mkdtempSync(join(tmpdir(), 'flowproof-retention-restore-'));
  dirs.push(dir);
  const file = join(dir, 'app.db');
  const snapshotFile = join(dir, 'snapshot.db');
  let database: Database.Database | undefined;
  return {
    name: 'sqlite',
    retention: { kind: 'sqlite', file: join(dir, 'retention.db') },
    async openApp() {
      const db = new Database(file);
      db.pragma('journal_mode = WAL');
      database = db;
      const backend = createSqliteBackend({ database: db, ownsDatabase: true });
      const keys = createSqliteDataKeyStore({ backend });
      await keys.migrate();
      return { backend, t: (name) => name, p: () => '?', keys, close: () => backend.close() };
    },
    async snapshot() {
      await (database as Database.Database).backup(snapshotFile);
      return 'db.backup()';
    },
    async restore(app) {
      await app.close();
      for (const suffix of ['', '-wal', '-shm']) rmSync(`${file}${suffix}`, { force: true });
      copyFileSync(snapshotFile, file);
    },
    async cleanup() {},
  };
}

function postgresEngine(url: string): Engine {
  const dir = mkdtempSync(join(tmpdir(), 'flowproof-retention-restore-pg-'));
  dirs.push(dir);
  const tag = `${process.pid}_${Date.now().toString(36)}`;
  const schema = `rapp_${tag}`;
  const copy = `rapp_copy_${tag}`;
  const dumpFile = join(dir, 'app.dump');
  const dump =
    process.env.RETENTION_RESTORE_BY_COPY !== '1' &&
    existsSync(join(PG_BIN, 'pg_dump')) &&
    existsSync(join(PG_BIN, 'pg_restore'));
  const admin = new pg.Pool({ connectionString: url, max: 2 });
  const tablesOf = async (inSchema: string) =>
    (
      await admin.query<{ name: string }>(
        `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY table_name`,
        [inSchema],
      )
    ).rows.map((r) => r.name);
  return {
    name: 'postgres',
    retention: { kind: 'postgres', url, schema: `rret_${tag}` },
    async openApp() {
      const pool = new pg.Pool({ connectionString: url, max: 4 });
      pool.on('error', () => {});
      await pool.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
      const backend = createPostgresBackend({ client: pool, schema });
      const keys = createPostgresDataKeyStore({ backend });
      await keys.migrate();
      return {
        backend,
        t: (name) => `"${schema}"."${name}"`,
        p: (i) => `$${i}`,
        keys,
        close: () => pool.end(),
      };
    },
    async snapshot() {
      if (dump) {
        execFileSync(join(PG_BIN, 'pg_dump'), ['-d', url, '-n', schema, '-Fc', '-f', dumpFile]);
        return 'pg_dump -Fc';
      }
      await admin.query(`CREATE SCHEMA "${copy}"`);
      for (const table of await tablesOf(schema)) {
        await admin.query(`CREATE TABLE "${copy}"."${table}" AS TABLE "${schema}"."${table}"`);
      }
      return 'CREATE TABLE … AS';
    },
    async restore(app) {
      await app.close();
      if (dump) {
        await admin.query(`DROP SCHEMA "${schema}" CASCADE`);
        execFileSync(join(PG_BIN, 'pg_restore'), ['-d', url, dumpFile]);
        return;
      }
      for (const table of await tablesOf(schema)) {
        await admin.query(`DELETE FROM "${schema}"."${table}"`);
        await admin.query(
          `INSERT INTO "${schema}"."${table}" OVERRIDING SYSTEM VALUE SELECT * FROM "${copy}"."${table}"`,
        );
      }
    },
    async cleanup() {
      for (const s of [schema, copy, `rret_${tag}`]) {
        await admin.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
      }
      await admin.end();
    },
  };
}

/** Creates the application's tables and its subjects, each order's address under the subject's key. */
async function seed(app: AppDatabase, encryption: FieldEncryption): Promise<void> {
  const { backend, t, p } = app;
  await backend.execute(`CREATE TABLE ${t('users')} (id TEXT PRIMARY KEY, email TEXT NOT NULL)`);
  await backend.execute(
    `CREATE TABLE ${t('sessions')} (id INTEGER PRIMARY KEY, user_id TEXT NOT NULL)`,
  );
  await backend.execute(
    `CREATE TABLE ${t('orders')} (id INTEGER PRIMARY KEY, user_id TEXT NOT NULL, user_email TEXT NOT NULL, shipping TEXT NOT NULL)`,
  );
  const insert = async (table: string, columns: number, rows: unknown[][]) => {
    for (let at = 0; at < rows.length; at += 500) {
      const chunk = rows.slice(at, at + 500);
      const values = chunk
        .map(
          (_, r) =>
            `(${Array.from({ length: columns }, (_, c) => p(r * columns + c + 1)).join(', ')})`,
        )
        .join(', ');
      await backend.execute(`INSERT INTO ${t(table)} VALUES ${values}`, chunk.flat());
    }
  };
  const users: unknown[][] = [];
  const sessions: unknown[][] = [];
  const orders: unknown[][] = [];
  for (let i = 1; i <= SUBJECTS; i++) {
    const subject = subjectOf(i);
    users.push([subject, `${subject}@example.com`]);
    sessions.push([2 * i, subject], [2 * i + 1, subject]);
    const address = await encryption.encrypt(shipping(i), { ...shippingContext(i), subject });
    orders.push([i, subject, `${subject}@example.com`, address]);
  }
  await insert('users', 2, users);
  await insert('sessions', 2, sessions);
  await insert('orders', 4, orders);
}

/** The application's data map: rows, then the subject's data key last. */
function dataMapOf(app: AppDatabase, encryption: FieldEncryption): DataMap {
  const { backend, t, p } = app;
  const count = async (sql: string, subject: string) =>
    Number((await backend.query<{ n: number | string }>(sql, [subject]))[0]?.n ?? 0);
  return createDataMap([
    {
      name: 'sessions',
      kind: 'sql-table',
      action: 'delete',
      erase: async ({ subject }) => ({
        affected: await backend.execute(`DELETE FROM ${t('sessions')} WHERE user_id = ${p(1)}`, [
          subject,
        ]),
      }),
      verify: ({ subject }) =>
        count(`SELECT count(*) AS n FROM ${t('sessions')} WHERE user_id = ${p(1)}`, subject),
    },
    {
      name: 'orders',
      kind: 'sql-table',
      action: 'anonymize',
      fields: ['user_email'],
      erase: async ({ subject }) => ({
        affected: await backend.execute(
          `UPDATE ${t('orders')} SET user_email = '[erased]' WHERE user_id = ${p(1)}`,
          [subject],
        ),
      }),
      verify: ({ subject }) =>
        count(
          `SELECT count(*) AS n FROM ${t('orders')} WHERE user_id = ${p(1)} AND user_email <> '[erased]'`,
          subject,
        ),
    },
    {
      name: 'users',
      kind: 'sql-table',
      action: 'delete',
      after: ['sessions', 'orders'],
      erase: async ({ subject }) => ({
        affected: await backend.execute(`DELETE FROM ${t('users')} WHERE id = ${p(1)}`, [subject]),
      }),
      verify: ({ subject }) =>
        count(`SELECT count(*) AS n FROM ${t('users')} WHERE id = ${p(1)}`, subject),
    },
    subjectKeyLocation(encryption, { after: ['sessions', 'orders', 'users'] }),
  ]);
}

function retentionOver(stores: OpenedStores, dataMap: DataMap): Retention {
  return createRetention({
    store: stores.store,
    audit: createAuditLog({ store: stores.auditStore }),
    sagaStore: stores.sagaStore,
    dataMap,
    grace: '0 days',
    retry: { retries: 2, minTimeout: 10, maxTimeout: 50, randomize: false },
    pollIntervalMs: 50,
  });
}

/** How many subjects of each kind are in the state they must be in. */
interface Tally {
  /** Erased subjects fully erased: no user row, no session, order anonymized, address `KEY_SHREDDED`. */
  readonly erased: number;
  /** Kept subjects fully intact: row, sessions, email, address readable. */
  readonly intact: number;
  /** Erased subjects readable again (the restore brought them back). */
  readonly readable: number;
}

async function tally(app: AppDatabase): Promise<Tally> {
  const { backend, t } = app;
  // A fresh reader with no cache: what any process would read now.
  const reader = createFieldEncryption({ store: app.keys, keyProvider: KEYS, cacheTtlMs: 0 });
  const users = new Set(
    (await backend.query<{ id: string }>(`SELECT id FROM ${t('users')}`)).map((r) => r.id),
  );
  const sessions = new Map<string, number>();
  for (const r of await backend.query<{ user_id: string }>(
    `SELECT user_id FROM ${t('sessions')}`,
  )) {
    sessions.set(r.user_id, (sessions.get(r.user_id) ?? 0) + 1);
  }
  const orders = await backend.query<{
    id: number | string;
    user_id: string;
    user_email: string;
    shipping: string;
  }>(`SELECT id, user_id, user_email, shipping FROM ${t('orders')} ORDER BY id`);
  let erased = 0;
  let intact = 0;
  let readable = 0;
  for (const order of orders) {
    const i = Number(order.id);
    const subject = subjectOf(i);
    let address: string | 'shredded' | 'unreadable';
    try {
      address = await reader.decrypt(order.shipping, shippingContext(i));
    } catch (error) {
      address = isFlowproofError(error, 'KEY_SHREDDED') ? 'shredded' : 'unreadable';
    }
    if (erasedSubject(i)) {
      if (address === shipping(i)) readable++;
      if (
        !users.has(subject) &&
        !sessions.has(subject) &&
        order.user_email === '[erased]' &&
        address === 'shredded'
      ) {
        erased++;
      }
    } else if (
      users.has(subject) &&
      sessions.get(subject) === 2 &&
      order.user_email === `${subject}@example.com` &&
      address === shipping(i)
    ) {
      intact++;
    }
  }
  return { erased, intact, readable };
}

async function restoreProof(engine: Engine): Promise<void> {
  const started = Date.now();
  const stores = await openStores(engine.retention);
  let app = await engine.openApp();
  try {
    const encryption = createFieldEncryption({ store: app.keys, keyProvider: KEYS });
    await seed(app, encryption);
    const how = await engine.snapshot(app);

    // Erase a quarter of the subjects.
    const first = retentionOver(stores, dataMapOf(app, encryption));
    first.start();
    try {
      const ids: string[] = [];
      for (let i = 1; i <= SUBJECTS; i++) {
        if (!erasedSubject(i)) continue;
        ids.push((await first.requestErasure(subjectOf(i), { source: 'user_request' })).id);
      }
      for (const id of ids) {
        expect((await first.waitForErasure(id, { timeoutMs: 60_000 })).status).toBe('completed');
      }
    } finally {
      await first.close();
    }
    const erasedAt = Date.now();
    expect(await tally(app)).toEqual({ erased: ERASED, intact: SUBJECTS - ERASED, readable: 0 });

    // The backup comes back: the erased subjects and their data keys with it.
    await engine.restore(app);
    app = await engine.openApp();
    expect(await tally(app)).toEqual({ erased: 0, intact: SUBJECTS - ERASED, readable: ERASED });
    expect(await stores.store.ledger({ limit: 10_000 })).toHaveLength(ERASED);

    // A new process over the restored database and the same ledger.
    const after = retentionOver(
      stores,
      dataMapOf(app, createFieldEncryption({ store: app.keys, keyProvider: KEYS })),
    );
    try {
      const progress: number[] = [];
      const report = await after.reapplyErasures({
        batchSize: 16,
        onProgress: ({ subjects }) => progress.push(subjects),
      });
      expect(report).toMatchObject({
        subjects: ERASED,
        locations: ERASED * 4,
        held: 0,
        failures: [],
        aborted: false,
      });
      expect(progress.at(-1)).toBe(ERASED);
    } finally {
      await after.close();
    }
    // 100% of the ledgered subjects erased again; nobody else touched.
    expect(await tally(app)).toEqual({ erased: ERASED, intact: SUBJECTS - ERASED, readable: 0 });
    console.log(
      `[retention restore, ${engine.name}] ${SUBJECTS} subjects, ${ERASED} erased (${erasedAt - started} ms incl. seeding), snapshot by ${how}, restored, reapplied: ${ERASED}/${ERASED} erased again (${Date.now() - erasedAt} ms)`,
    );
  } finally {
    await app.close().catch(() => {});
    await stores.close();
    await engine.cleanup();
  }
}

describe('retention: erasures survive a backup restore', () => {
  it('SQLite: snapshot (db.backup()), erase, restore, reapplyErasures(): 100% erased again', async () => {
    await restoreProof(sqliteEngine());
  }, 120_000);
});

describeWithPostgres('retention: erasures survive a PostgreSQL restore', (url) => {
  it('snapshot (pg_dump, or a copy of each table), erase, restore, reapplyErasures(): 100% erased again', async () => {
    await restoreProof(postgresEngine(url));
  }, 120_000);
});
