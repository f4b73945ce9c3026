/**
 * The SQL saga store a fault-injection run works on, opened the same way by the parent and by
 * each child: a SQLite file in a temp dir, or a PostgreSQL schema of its own.
 */
import Database from 'better-sqlite3';
import pg from 'pg';
import {
  createPostgresBackend,
  createPostgresSagaStore,
  type PostgresBackend,
} from '../../../src/adapters/postgres/index.js';
import {
  createSqliteBackend,
  createSqliteSagaStore,
  type SqliteBackend,
} from '../../../src/adapters/sqlite/index.js';
import type { SagaStore } from '../../../src/saga/index.js';

/** Where the sagas live. */
export type ChaosTarget =
  | { readonly backend: 'sqlite'; readonly file: string }
  | { readonly backend: 'postgres'; readonly url: string; readonly schema: string };

/** An open store, with the table transactional steps write their effects to. */
export interface ChaosStore {
  readonly store: SagaStore;
  /** `INSERT` of one effect row (key, saga id). */
  readonly insertEffect: string;
  /** Committed effect rows by key. */
  effectRows(): Promise<Map<string, number>>;
  /** Creates the saga table and the effects table (the parent, once per run). */
  prepare(): Promise<void>;
  /** Drops what `prepare` created (PostgreSQL: the schema; a SQLite file is removed with its dir). */
  drop(): Promise<void>;
  close(): Promise<void>;
}

const EFFECTS = 'fault_effects';

/** Opens the store of `target`. */
export function openChaosStore(target: ChaosTarget): ChaosStore {
  let backend: SqliteBackend | PostgresBackend;
  let store: SagaStore;
  let p: (n: number) => string;
  if (target.backend === 'sqlite') {
    const database = new Database(target.file);
    database.pragma('journal_mode = WAL');
    const sqlite = createSqliteBackend({ database, ownsDatabase: true, busyTimeoutMs: 10_000 });
    backend = sqlite;
    store = createSqliteSagaStore({ backend: sqlite, ownsBackend: true });
    p = () => '?';
  } else {
    const client = new pg.Pool({ connectionString: target.url, max: 6 });
    // An idle connection dropped by the server (at the end of a run) is not the run's failure.
    client.on('error', () => {});
    const postgres = createPostgresBackend({ client, schema: target.schema, ownsClient: true });
    backend = postgres;
    store = createPostgresSagaStore({ backend: postgres, ownsBackend: true });
    p = (n) => `$${n}`;
  }
  const table = backend.table(EFFECTS);
  return {
    store,
    insertEffect: `INSERT INTO ${table} (key, saga_id) VALUES (${p(1)}, ${p(2)})`,
    async effectRows() {
      const rows = await backend.query<{ key: string; n: number | string }>(
        `SELECT key, COUNT(*) AS n FROM ${table} GROUP BY key`,
      );
      return new Map(rows.map((row) => [row.key, Number(row.n)]));
    },
    async prepare() {
      await store.migrate();
      await backend.execute(
        `CREATE TABLE IF NOT EXISTS ${table} (key TEXT NOT NULL, saga_id TEXT NOT NULL)`,
      );
    },
    async drop() {
      if (target.backend === 'postgres') {
        await backend.execute(`DROP SCHEMA IF EXISTS "${target.schema}" CASCADE`);
      }
    },
    close: () => store.close(),
  };
}
