/**
 * The audit stores flowproof ships, as conformance targets over the backend targets in
 * `backends.ts`, with raw tampering that bypasses their append-only triggers. Child processes
 * import this module too (cross-process tests).
 */

import { createMemoryAuditStore, type MemoryAuditStore } from '../../src/adapters/memory/index.js';
import {
  MEMORY_AUDIT_RECORDS,
  type MemoryAuditRecord,
  memoryAuditRecord,
  recordKey,
} from '../../src/adapters/memory/memory-audit-store.js';
import {
  createPostgresAuditStore,
  type PostgresAuditStore,
} from '../../src/adapters/postgres/index.js';
import type { SqlBackend } from '../../src/adapters/sql/sql-dialect.js';
import { createSqliteAuditStore, type SqliteAuditStore } from '../../src/adapters/sqlite/index.js';
import { sqliteAuditTriggers } from '../../src/adapters/sqlite/sqlite-audit-store.js';
import type { AuditRow } from '../../src/audit/audit-store.js';
import type { AuditRecordChange, AuditStoreTarget, AuditTamper } from '../../src/testing/index.js';
import { memoryTarget, pgliteTarget, postgresTarget, sqliteTarget } from './backends.js';

const COLUMNS: Record<keyof AuditRecordChange, string> = {
  body: 'body',
  prevHash: 'prev_hash',
  hash: 'hash',
  seq: 'seq',
  recordedAt: 'recorded_at',
};

/**
 * Tampering through `backend`, each change in a transaction where `unguarded` has lifted the
 * records table's triggers (given that table's name) for the change only.
 */
function sqlTamper<B extends SqlBackend>(
  backend: B,
  unguarded: (tx: B, records: string, change: () => Promise<unknown>) => Promise<void>,
): AuditTamper {
  const run = (sql: (records: string) => string, params: unknown[]) =>
    backend.transaction(async (tx) => {
      const records = tx.table('audit_records');
      await unguarded(tx, records, () => tx.execute(sql(records), params));
    });
  return {
    update: (chain, seq, set) => {
      const keys = Object.keys(set) as (keyof AuditRecordChange)[];
      const assignments = keys.map((key, i) => `${COLUMNS[key]} = ${param(backend, i + 1)}`);
      const n = keys.length;
      return run(
        (records) =>
          `UPDATE ${records} SET ${assignments.join(', ')} WHERE chain = ${param(backend, n + 1)} AND seq = ${param(backend, n + 2)}`,
        [...keys.map((key) => set[key]), chain, seq],
      );
    },
    delete: (chain, seq) =>
      run(
        (records) =>
          `DELETE FROM ${records} WHERE chain = ${param(backend, 1)} AND seq = ${param(backend, 2)}`,
        [chain, seq],
      ),
    insert: (row: AuditRow) =>
      run(
        (records) =>
          `INSERT INTO ${records} (chain, seq, recorded_at, body, prev_hash, hash) VALUES (${[1, 2, 3, 4, 5, 6].map((i) => param(backend, i)).join(', ')})`,
        [row.chain, row.seq, row.recordedAt, row.body, row.prevHash, row.hash],
      ),
  };
}

function param(backend: SqlBackend, n: number): string {
  return backend.kind === 'postgres' ? `$${n}` : '?';
}

/** PostgreSQL: the table's user triggers disabled inside the transaction (DDL is transactional). */
function postgresTamper(store: PostgresAuditStore): AuditTamper {
  return sqlTamper(store.backend, async (tx, records, change) => {
    await tx.execute(`ALTER TABLE ${records} DISABLE TRIGGER USER`);
    await change();
    await tx.execute(`ALTER TABLE ${records} ENABLE TRIGGER USER`);
  });
}

/** SQLite: the triggers dropped and created again inside the transaction. */
function sqliteTamper(store: SqliteAuditStore): AuditTamper {
  return sqlTamper(store.backend, async (tx, _records, change) => {
    const triggers = sqliteAuditTriggers(tx);
    for (const ddl of triggers) {
      await tx.execute(`DROP TRIGGER ${/CREATE TRIGGER (\S+)/.exec(ddl)?.[1]}`);
    }
    await change();
    for (const ddl of triggers) await tx.execute(ddl);
  });
}

export const sqliteAuditStoreTarget: AuditStoreTarget<SqliteAuditStore> = {
  name: 'sqlite',
  factory: async (namespace) =>
    createSqliteAuditStore({ backend: await sqliteTarget.factory(namespace), ownsBackend: true }),
  bind: (store, backend) => store.withBackend(backend as SqliteAuditStore['backend']),
  tamper: sqliteTamper,
  capabilities: { transactions: true, appendOnly: true },
};

export const pgliteAuditStoreTarget: AuditStoreTarget<PostgresAuditStore> = {
  name: 'pglite',
  factory: async (namespace) =>
    createPostgresAuditStore({ backend: await pgliteTarget.factory(namespace) }),
  bind: (store, backend) => store.withBackend(backend as PostgresAuditStore['backend']),
  tamper: postgresTamper,
  capabilities: { transactions: true, appendOnly: true, truncate: true },
};

export const postgresAuditStoreTarget: AuditStoreTarget<PostgresAuditStore> = {
  name: 'postgres',
  factory: async (namespace) =>
    createPostgresAuditStore({ backend: await postgresTarget.factory(namespace) }),
  bind: (store, backend) => store.withBackend(backend as PostgresAuditStore['backend']),
  tamper: postgresTamper,
  capabilities: { transactions: true, appendOnly: true, truncate: true },
};

/** Memory: the records collection changed directly (its query fields read from the body). */
function memoryTamper(store: MemoryAuditStore): AuditTamper {
  const records = () => store.backend.collection<MemoryAuditRecord>(MEMORY_AUDIT_RECORDS);
  const put = (row: AuditRow) => {
    records().set(recordKey(row.chain, row.seq), memoryAuditRecord(row));
  };
  return {
    update: async (chain, seq, set) => {
      const record = records().get(recordKey(chain, seq));
      if (record === undefined) throw new Error(`no record ${chain}/${seq}`);
      records().delete(recordKey(chain, seq));
      put({ ...record, ...set });
    },
    delete: async (chain, seq) => {
      records().delete(recordKey(chain, seq));
    },
    insert: async (row) => put(row),
  };
}

export const memoryAuditStoreTarget: AuditStoreTarget<MemoryAuditStore> = {
  name: 'memory',
  factory: async (namespace) =>
    createMemoryAuditStore({ backend: await memoryTarget.factory(namespace) }),
  bind: (store, backend) => store.withBackend(backend as MemoryAuditStore['backend']),
  tamper: memoryTamper,
  capabilities: { transactions: true },
};

// Records partitioned by month (every record of the run lands in the default partition).
export const pglitePartitionedAuditStoreTarget: AuditStoreTarget<PostgresAuditStore> = {
  ...pgliteAuditStoreTarget,
  name: 'pglite, partitioned by month',
  factory: async (namespace) =>
    createPostgresAuditStore({
      backend: await pgliteTarget.factory(namespace),
      partitionByMonth: true,
    }),
};
