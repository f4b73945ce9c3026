/**
 * What the privacy proofs share, in the test process and in its child processes alike: a
 * PostgreSQL schema of their own holding the data-key store and a table of encrypted values
 * (`id bigint` → `value text`, a base64url ciphertext), the key-encryption key every process
 * uses, the encryption context of a row, and bulk loading and reading of the table.
 */
import pg from 'pg';
import {
  createPostgresBackend,
  createPostgresDataKeyStore,
  type PostgresBackend,
} from '../../../src/adapters/postgres/index.js';
import type { DataKeyStore } from '../../../src/privacy/data-key-store.js';
import type { EncryptionContext } from '../../../src/privacy/encryption/ciphertext-format.js';
import type { KeyProvider } from '../../../src/privacy/encryption/key-provider.js';
import { createLocalKeyProvider } from '../../../src/privacy/encryption/local-key-provider.js';

/** One stored value of a proof table. */
export interface StoredValue {
  readonly id: number;
  readonly value: string;
}

/** A proof's schema: its pool, backend, data-key store and tables. */
export interface ProofWorld {
  readonly pool: pg.Pool;
  readonly backend: PostgresBackend;
  readonly store: DataKeyStore;
  /** The quoted, schema-qualified name of proof table `name`, for SQL text. */
  table(name: string): string;
  /** `<schema>.<name>`, for options that take a table name. */
  tableName(name: string): string;
  /** Creates the schema, migrates the key store, and creates the proof table `name`. */
  prepare(...tables: readonly string[]): Promise<void>;
  /** Drops the schema and everything in it. */
  drop(): Promise<void>;
  close(): Promise<void>;
}

/** Opens (creates nothing yet) the proof schema `schema` with a pool of `poolMax` connections. */
export function openProofWorld(url: string, schema: string, poolMax: number): ProofWorld {
  const pool = new pg.Pool({ connectionString: url, max: poolMax });
  // A connection the server drops at the end of a run (or a child killed mid-statement) is not
  // the run's failure.
  pool.on('error', () => {});
  const backend = createPostgresBackend({ client: pool, schema, timeoutMs: 60_000 });
  const store = createPostgresDataKeyStore({ backend });
  const table = (name: string) => `"${schema}"."${name}"`;
  return {
    pool,
    backend,
    store,
    table,
    tableName: (name) => `${schema}.${name}`,
    async prepare(...tables) {
      await store.migrate();
      for (const name of tables) {
        await backend.execute(
          `CREATE TABLE IF NOT EXISTS ${table(name)} (id bigint PRIMARY KEY, value text NOT NULL)`,
        );
      }
    },
    async drop() {
      await backend.execute(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    },
    close: () => pool.end(),
  };
}

/** A fresh schema name for one run of proof `name`. */
export function proofSchema(name: string): string {
  return `privacy_${name}_${process.pid}_${Date.now().toString(36)}`;
}

/** The key provider of a run: one key-encryption key, shared by every process as base64. */
export function proofKeyProvider(kekBase64: string): KeyProvider {
  return createLocalKeyProvider({ keys: { 'proof-kek': kekBase64 }, current: 'proof-kek' });
}

/** The encryption context of row `id` of a proof table. */
export function rowContext(table: string, column: string, id: number): EncryptionContext {
  return { table, column, row: String(id) };
}

/** Inserts `rows` in statements of up to 10,000 rows (one array parameter per column). */
export async function insertValues(
  backend: PostgresBackend,
  table: string,
  rows: readonly StoredValue[],
): Promise<void> {
  for (let at = 0; at < rows.length; at += 10_000) {
    const chunk = rows.slice(at, at + 10_000);
    await backend.execute(
      `INSERT INTO ${table} (id, value) SELECT * FROM unnest($1::bigint[], $2::text[])`,
      [chunk.map((row) => row.id), chunk.map((row) => row.value)],
    );
  }
}

/** Every row of `table`, a page of `pageSize` at a time, by id. */
export async function* readAll(
  backend: PostgresBackend,
  table: string,
  pageSize = 10_000,
): AsyncGenerator<StoredValue[]> {
  let after = 0;
  for (;;) {
    const page = await backend.query<{ id: string; value: string }>(
      `SELECT id, value FROM ${table} WHERE id > $1 ORDER BY id LIMIT $2`,
      [after, pageSize],
    );
    if (page.length === 0) return;
    yield page.map((row) => ({ id: Number(row.id), value: row.value }));
    after = Number((page[page.length - 1] as { id: string }).id);
  }
}
