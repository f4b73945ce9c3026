/**
 * What the audit proofs share: the entries they record, the audit stores they open (memory, a
 * SQLite file, PGlite, a PostgreSQL schema of their own), and raw access to a store's records past
 * its append-only protection, in bulk, for the tamper proof: each change runs in one transaction
 * with the protection lifted for it only (PostgreSQL: the table's triggers disabled inside the
 * transaction; SQLite: the triggers dropped and created again; memory: the collection itself).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import Database from 'better-sqlite3';
import pg from 'pg';
import {
  createMemoryAuditStore,
  createMemoryBackend,
  type MemoryBackend,
} from '../../../src/adapters/memory/index.js';
import {
  MEMORY_AUDIT_RECORDS,
  type MemoryAuditRecord,
  memoryAuditRecord,
  recordKey,
} from '../../../src/adapters/memory/memory-audit-store.js';
import {
  createPostgresAuditStore,
  createPostgresBackend,
  type PostgresBackend,
} from '../../../src/adapters/postgres/index.js';
import {
  createSqliteAuditStore,
  createSqliteBackend,
  type SqliteBackend,
} from '../../../src/adapters/sqlite/index.js';
import { sqliteAuditTriggers } from '../../../src/adapters/sqlite/sqlite-audit-store.js';
import type { AuditEntry, AuditRow, AuditStore } from '../../../src/audit/index.js';

/** Entry `i` of a proof chain: actors, resources and values vary with `i`. */
export function proofEntry(i: number): AuditEntry {
  return {
    action: i % 3 === 0 ? 'user.updated' : 'order.placed',
    actor: { id: `actor-${i % 17}`, type: 'user' },
    resource: { type: i % 3 === 0 ? 'user' : 'order', id: `r-${i % 101}` },
    changes: { email: { before: `a${i}@example.com`, after: `b${i}@example.com` } },
    metadata: { i },
  };
}

/** A change of one stored record's columns (the body's derived columns follow the body). */
export interface RecordColumns {
  readonly body?: string;
  readonly prevHash?: string;
  readonly hash?: string;
  readonly recordedAt?: number;
}

/** One raw change of a chain's records. */
export type RawChange =
  | { readonly op: 'update'; readonly seq: number; readonly set: RecordColumns }
  /** Deletes records `from..through`. */
  | { readonly op: 'delete'; readonly from: number; readonly through: number }
  /** Renumbers every record from `from` on by `by` (records keep their bodies). */
  | { readonly op: 'shift'; readonly from: number; readonly by: number }
  /** Renumbers record `from` to `to` (a free number). */
  | { readonly op: 'move'; readonly from: number; readonly to: number }
  | { readonly op: 'insert'; readonly rows: readonly AuditRow[] };

/** Raw access to one store's records past its append-only protection. */
export interface RawRecords {
  /** Applies `changes` to `chain` in order, in one transaction. */
  change(chain: string, changes: readonly RawChange[]): Promise<void>;
}

/** An audit store opened for a proof, with raw access and a way to remove what it created. */
export interface ProofStore {
  readonly name: string;
  readonly store: AuditStore;
  readonly raw: RawRecords;
  /** Closes the store and removes its data. */
  dispose(): Promise<void>;
}

const COLUMN: Record<keyof RecordColumns, string> = {
  body: 'body',
  prevHash: 'prev_hash',
  hash: 'hash',
  recordedAt: 'recorded_at',
};

/** How one engine spells a parameter and reads rows given as one JSON parameter. */
interface SqlSpelling {
  readonly placeholder: (n: number) => string;
  readonly selectRows: (param: string) => string;
}

const postgresSpelling: SqlSpelling = {
  placeholder: (n) => `$${n}`,
  selectRows: (param) =>
    `SELECT chain, seq, "recordedAt", body, "prevHash", hash FROM json_to_recordset(${param}::json)
       AS x(chain text, seq bigint, "recordedAt" bigint, body text, "prevHash" text, hash text)`,
};

const sqliteSpelling: SqlSpelling = {
  placeholder: () => '?',
  selectRows: (param) =>
    `SELECT value ->> 'chain', value ->> 'seq', value ->> 'recordedAt', value ->> 'body',
            value ->> 'prevHash', value ->> 'hash' FROM json_each(${param})`,
};

/**
 * One statement: `build` gets a function that takes a parameter's value and returns its
 * placeholder, in the order they appear in the text (SQLite's `?` are positional).
 */
function statement(
  spelling: SqlSpelling,
  build: (param: (value: unknown) => string) => string,
): [string, unknown[]] {
  const params: unknown[] = [];
  const sql = build((value) => {
    params.push(value);
    return spelling.placeholder(params.length);
  });
  return [sql, params];
}

/** The statements of `changes` to `chain` on `records`. */
function sqlStatements(
  spelling: SqlSpelling,
  records: string,
  chain: string,
  changes: readonly RawChange[],
): [string, unknown[]][] {
  const sql = (build: (param: (value: unknown) => string) => string) => statement(spelling, build);
  const statements: [string, unknown[]][] = [];
  for (const change of changes) {
    switch (change.op) {
      case 'update': {
        const keys = Object.keys(change.set) as (keyof RecordColumns)[];
        statements.push(
          sql(
            (p) =>
              `UPDATE ${records} SET ${keys.map((key) => `${COLUMN[key]} = ${p(change.set[key])}`).join(', ')}
                 WHERE chain = ${p(chain)} AND seq = ${p(change.seq)}`,
          ),
        );
        break;
      }
      case 'delete':
        statements.push(
          sql(
            (p) =>
              `DELETE FROM ${records} WHERE chain = ${p(chain)} AND seq BETWEEN ${p(change.from)} AND ${p(change.through)}`,
          ),
        );
        break;
      case 'shift':
        // Through negative numbers: a primary key is checked row by row.
        statements.push(
          sql(
            (p) =>
              `UPDATE ${records} SET seq = -(seq + ${p(change.by)}) WHERE chain = ${p(chain)} AND seq >= ${p(change.from)}`,
          ),
          sql((p) => `UPDATE ${records} SET seq = -seq WHERE chain = ${p(chain)} AND seq < 0`),
        );
        break;
      case 'move':
        statements.push(
          sql(
            (p) =>
              `UPDATE ${records} SET seq = ${p(change.to)} WHERE chain = ${p(chain)} AND seq = ${p(change.from)}`,
          ),
        );
        break;
      case 'insert':
        statements.push(
          sql(
            (p) =>
              `INSERT INTO ${records} (chain, seq, recorded_at, body, prev_hash, hash) ${spelling.selectRows(p(JSON.stringify(change.rows)))}`,
          ),
        );
        break;
    }
  }
  return statements;
}

/** PostgreSQL: the records table's triggers disabled inside the transaction (DDL is transactional). */
function postgresRaw(backend: PostgresBackend): RawRecords {
  return {
    change: (chain, changes) =>
      backend.transaction(async (tx) => {
        const records = tx.table('audit_records');
        await tx.execute(`ALTER TABLE ${records} DISABLE TRIGGER USER`);
        for (const [sql, params] of sqlStatements(postgresSpelling, records, chain, changes)) {
          await tx.execute(sql, params);
        }
        await tx.execute(`ALTER TABLE ${records} ENABLE TRIGGER USER`);
      }),
  };
}

/** SQLite: the triggers dropped and created again inside the transaction. */
function sqliteRaw(backend: SqliteBackend): RawRecords {
  return {
    change: (chain, changes) =>
      backend.transaction(async (tx) => {
        const triggers = sqliteAuditTriggers(tx);
        for (const ddl of triggers) {
          await tx.execute(`DROP TRIGGER ${/CREATE TRIGGER (\S+)/.exec(ddl)?.[1]}`);
        }
        const records = tx.table('audit_records');
        for (const [sql, params] of sqlStatements(sqliteSpelling, records, chain, changes)) {
          await tx.execute(sql, params);
        }
        for (const ddl of triggers) await tx.execute(ddl);
      }),
  };
}

/** Memory: the records collection itself (query fields of an inserted row read from its body). */
function memoryRaw(backend: MemoryBackend): RawRecords {
  return {
    async change(chain, changes) {
      const records = backend.collection<MemoryAuditRecord>(MEMORY_AUDIT_RECORDS);
      const get = (seq: number) => records.get(recordKey(chain, seq));
      const put = (row: MemoryAuditRecord) => records.set(recordKey(chain, row.seq), row);
      for (const change of changes) {
        switch (change.op) {
          case 'update': {
            const row = get(change.seq);
            if (row !== undefined) put({ ...row, ...change.set });
            break;
          }
          case 'delete':
            for (let seq = change.from; seq <= change.through; seq++) {
              records.delete(recordKey(chain, seq));
            }
            break;
          case 'shift': {
            const moved = [...records.values()]
              .filter((r) => r.chain === chain && r.seq >= change.from)
              .sort((a, b) => (change.by > 0 ? b.seq - a.seq : a.seq - b.seq));
            for (const row of moved) {
              records.delete(recordKey(chain, row.seq));
              put({ ...row, seq: row.seq + change.by });
            }
            break;
          }
          case 'move': {
            const row = get(change.from);
            if (row === undefined) break;
            records.delete(recordKey(chain, change.from));
            put({ ...row, seq: change.to });
            break;
          }
          case 'insert':
            for (const row of change.rows) put(memoryAuditRecord(row));
            break;
        }
      }
    },
  };
}

/** A memory audit store. */
export async function openMemoryProofStore(): Promise<ProofStore> {
  const backend = createMemoryBackend();
  const store = createMemoryAuditStore({ backend });
  await store.migrate();
  return { name: 'memory', store, raw: memoryRaw(backend), dispose: () => store.close() };
}

/** A SQLite audit store on a file of its own (WAL), which `dispose` removes. */
export async function openSqliteProofStore(file?: string): Promise<ProofStore> {
  const dir = mkdtempSync(join(tmpdir(), 'flowproof-audit-proof-'));
  const database = new Database(file ?? join(dir, 'audit.db'));
  database.pragma('journal_mode = WAL');
  const backend = createSqliteBackend({ database, ownsDatabase: true, busyTimeoutMs: 60_000 });
  const store = createSqliteAuditStore({ backend, ownsBackend: true });
  await store.migrate();
  return {
    name: 'sqlite',
    store,
    raw: sqliteRaw(backend),
    async dispose() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A PostgreSQL audit store in a schema of its own over a pool of `poolMax`; `dispose` drops it. */
export async function openPostgresProofStore(
  url: string,
  schema: string,
  poolMax = 10,
): Promise<ProofStore & { readonly pool: pg.Pool; readonly backend: PostgresBackend }> {
  const pool = new pg.Pool({ connectionString: url, max: poolMax });
  pool.on('error', () => {});
  const backend = createPostgresBackend({ client: pool, schema });
  const store = createPostgresAuditStore({ backend });
  await store.migrate();
  return {
    name: 'postgres',
    store,
    pool,
    backend,
    raw: postgresRaw(backend),
    async dispose() {
      await backend.execute(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await store.close();
      await pool.end();
    },
  };
}

/** A PostgreSQL audit store on an embedded PGlite database. */
export async function openPgliteProofStore(): Promise<ProofStore> {
  const client = new PGlite();
  const backend = createPostgresBackend({ client, schema: 'audit_proof' });
  const store = createPostgresAuditStore({ backend });
  await store.migrate();
  return {
    name: 'pglite',
    store,
    raw: postgresRaw(backend),
    async dispose() {
      await store.close();
      await client.close();
    },
  };
}

/** A schema name of its own for one run of a proof. */
export function proofSchema(proof: string): string {
  return `audit_${proof}_${process.pid}_${Date.now().toString(36)}`;
}
