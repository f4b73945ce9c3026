/**
 * Probes for the backends flowproof ships: how the conformance suite writes and reads its own rows
 * on each, and how it opens a transaction the way an application would.
 */
import type { MemoryBackend } from '../adapters/memory/memory-backend.js';
import type { PostgresBackend } from '../adapters/postgres/postgres-backend.js';
import type { PostgresPoolLike, PostgresQueryable } from '../adapters/postgres/postgres-client.js';
import type { RedisBackend } from '../adapters/redis/redis-backend.js';
import type { SqliteBackend } from '../adapters/sqlite/sqlite-backend.js';
import type { SqliteDatabaseLike } from '../adapters/sqlite/sqlite-client.js';
import type { BackendProbe } from './backend-conformance.js';

const ITEMS = 'conformance_items';
const ORDERS = 'conformance_business_orders';

/** The probe for {@link MemoryBackend}. */
export const memoryProbe: BackendProbe<MemoryBackend> = {
  async createTable(backend) {
    backend.collection(ITEMS);
  },
  async insert(backend, id, value) {
    await backend.exclusive(() => {
      const items = backend.collection<string>(ITEMS);
      if (items.has(id)) throw new Error(`duplicate id ${id}`);
      items.set(id, value);
    });
  },
  async read(backend, id) {
    return backend.collection<string>(ITEMS).get(id);
  },
};

/** The probe for {@link RedisBackend}. */
export const redisProbe: BackendProbe<RedisBackend> = {
  async createTable() {},
  async insert(backend, id, value) {
    const set = await backend.command('SET', backend.key(ITEMS, id), value, 'NX');
    if (set === null) throw new Error(`duplicate id ${id}`);
  },
  async read(backend, id) {
    const value = await backend.command<string | null>('GET', backend.key(ITEMS, id));
    return value ?? undefined;
  },
};

/** A pool connection or PGlite: something a native transaction can be opened on. */
export type PostgresProbeClient = PostgresPoolLike | PostgresQueryable;

/**
 * Creates the probe for {@link PostgresBackend}. `clientOf` returns the application's client the
 * backend was created on, so the probe can open a transaction on it natively.
 */
export function createPostgresProbe(
  clientOf: (backend: PostgresBackend) => PostgresProbeClient,
): BackendProbe<PostgresBackend> {
  return {
    async createTable(backend) {
      await backend.execute(
        `CREATE TABLE ${backend.table(ITEMS)} (id text PRIMARY KEY, value text NOT NULL)`,
      );
      await backend.execute(`CREATE TABLE ${backend.table(ORDERS)} (id text PRIMARY KEY)`);
    },
    async insert(backend, id, value) {
      await backend.execute(`INSERT INTO ${backend.table(ITEMS)} (id, value) VALUES ($1, $2)`, [
        id,
        value,
      ]);
    },
    async read(backend, id) {
      const [row] = await backend.query<{ value: string }>(
        `SELECT value FROM ${backend.table(ITEMS)} WHERE id = $1`,
        [id],
      );
      return row?.value;
    },
    async callerTransaction(backend, businessId, work, outcome) {
      const client = clientOf(backend);
      const connection = 'connect' in client ? await client.connect() : client;
      try {
        await connection.query('BEGIN');
        await connection.query(`INSERT INTO ${backend.table(ORDERS)} (id) VALUES ($1)`, [
          businessId,
        ]);
        await work(backend.withTransactionClient(connection));
        await connection.query(outcome === 'commit' ? 'COMMIT' : 'ROLLBACK');
      } catch (error) {
        await connection.query('ROLLBACK');
        throw error;
      } finally {
        if ('release' in connection && typeof connection.release === 'function')
          connection.release();
      }
    },
    async readBusinessRow(backend, businessId) {
      const rows = await backend.query(`SELECT 1 FROM ${backend.table(ORDERS)} WHERE id = $1`, [
        businessId,
      ]);
      return rows.length === 1;
    },
  };
}

/**
 * Creates the probe for {@link SqliteBackend}. `databaseOf` returns the application's connection
 * the backend was created on.
 */
export function createSqliteProbe(
  databaseOf: (backend: SqliteBackend) => SqliteDatabaseLike,
): BackendProbe<SqliteBackend> {
  return {
    async createTable(backend) {
      await backend.execute(
        `CREATE TABLE ${backend.table(ITEMS)} (id TEXT PRIMARY KEY, value TEXT NOT NULL)`,
      );
      await backend.execute(`CREATE TABLE ${backend.table(ORDERS)} (id TEXT PRIMARY KEY)`);
    },
    async insert(backend, id, value) {
      await backend.execute(`INSERT INTO ${backend.table(ITEMS)} (id, value) VALUES (?, ?)`, [
        id,
        value,
      ]);
    },
    async read(backend, id) {
      const [row] = await backend.query<{ value: string }>(
        `SELECT value FROM ${backend.table(ITEMS)} WHERE id = ?`,
        [id],
      );
      return row?.value;
    },
    async callerTransaction(backend, businessId, work, outcome) {
      const database = databaseOf(backend);
      database.exec('BEGIN');
      try {
        database.prepare(`INSERT INTO ${backend.table(ORDERS)} (id) VALUES (?)`).run(businessId);
        await work(backend.joinOpenTransaction());
        database.exec(outcome === 'commit' ? 'COMMIT' : 'ROLLBACK');
      } catch (error) {
        database.exec('ROLLBACK');
        throw error;
      }
    },
    async readBusinessRow(backend, businessId) {
      const rows = await backend.query(`SELECT 1 FROM ${backend.table(ORDERS)} WHERE id = ?`, [
        businessId,
      ]);
      return rows.length === 1;
    },
  };
}
