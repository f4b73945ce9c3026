import { AUDIT_STORE_COMPONENT, type AuditStore } from '../../audit/audit-store.js';
import type { MigrationSet } from '../../core/storage-backend.js';
import {
  AUDIT_APPEND_ONLY_MESSAGE,
  AUDIT_TABLES,
  type AuditSqlDialect,
  auditRecordIndexes,
  auditTables,
  createSqlAuditStore,
} from '../sql/sql-audit-store.js';
import type { SqliteBackend } from './sqlite-backend.js';
import { SQLITE_NOW_MS, sqliteDialect, sqliteJsonRows } from './sqlite-dialect.js';

/** Options of {@link createSqliteAuditStore}. */
export interface SqliteAuditStoreOptions {
  /** The SQLite backend holding the tables `<prefix>audit_*`. */
  readonly backend: SqliteBackend;
  /**
   * Close the backend in `close()`.
   * @default false
   */
  readonly ownsBackend?: boolean;
}

/** The {@link AuditStore} over a {@link SqliteBackend}. */
export interface SqliteAuditStore extends AuditStore<SqliteBackend> {
  /** Always `sqlite`. */
  readonly kind: 'sqlite';
  /** The backend. */
  readonly backend: SqliteBackend;
  /**
   * The same store over `backend`: pass `backend.joinOpenTransaction()` (after your own `BEGIN`)
   * or the backend `backend.transaction()` gives its callback, and records appended through it
   * commit or roll back with your writes.
   *
   * @throws TypeError when `backend` is not a SQLite backend.
   */
  withBackend(backend: SqliteBackend): SqliteAuditStore;
}

/**
 * The schema of the SQLite audit store (component `audit`), applied by
 * {@link SqliteAuditStore.migrate}; exported for applications that run migrations with their own
 * tooling. Triggers refuse `UPDATE` and `DELETE` of records and checkpoints, except the deletion
 * of records up to a chain's archive boundary; a chain's head only moves forward, and its archive
 * boundary only forward to a sequence number a checkpoint covers.
 */
export const sqliteAuditStoreMigrations: MigrationSet<SqliteBackend> = {
  component: AUDIT_STORE_COMPONENT,
  migrations: [
    {
      version: 1,
      name: 'audit records, heads, checkpoints and verification markers',
      up: async (b) => {
        const records = b.table(AUDIT_TABLES.records);
        const named = (suffix: string) => b.table(`${AUDIT_TABLES.records}_${suffix}`);
        const tables = auditTables(
          {
            records,
            heads: b.table(AUDIT_TABLES.heads),
            checkpoints: b.table(AUDIT_TABLES.checkpoints),
            verified: b.table(AUDIT_TABLES.verified),
          },
          {
            text: 'TEXT',
            integer: 'INTEGER',
            // VIRTUAL: the values are kept in the query indexes only.
            member: (path) => `GENERATED ALWAYS AS (json_extract(body, '$.${path.join('.')}'))`,
            recordsOptions: 'WITHOUT ROWID',
          },
        );
        for (const ddl of tables) await b.execute(ddl);
        for (const ddl of auditRecordIndexes(records, named)) await b.execute(ddl);
        for (const ddl of sqliteAuditTriggers(b)) await b.execute(ddl);
      },
    },
  ],
};

/**
 * The triggers that keep records and checkpoints append-only (a record may go once its sequence
 * number is within its chain's archive boundary) and heads moving forward only. Exported for
 * tests that must change records behind the store's back: drop them, change, and create them
 * again.
 *
 * @internal
 */
export function sqliteAuditTriggers(b: Pick<SqliteBackend, 'table'>): string[] {
  const records = b.table(AUDIT_TABLES.records);
  const heads = b.table(AUDIT_TABLES.heads);
  const checkpoints = b.table(AUDIT_TABLES.checkpoints);
  const refuse = `BEGIN SELECT RAISE(ABORT, '${AUDIT_APPEND_ONLY_MESSAGE}'); END`;
  return [
    // A head moves forward only, and its archive boundary only forward to a checkpoint: a
    // boundary moved by hand would let records go, a head moved back would fork the chain.
    `CREATE TRIGGER ${b.table('audit_heads_forward_only')} BEFORE UPDATE ON ${heads}
       WHEN NEW.chain IS NOT OLD.chain OR NEW.seq < OLD.seq
         OR (NEW.archived_through IS NOT OLD.archived_through AND NOT (
               NEW.archived_through > OLD.archived_through AND NEW.archived_through <= NEW.seq
               AND EXISTS (SELECT 1 FROM ${checkpoints}
                            WHERE chain = NEW.chain AND seq = NEW.archived_through)))
       ${refuse}`,
    `CREATE TRIGGER ${b.table('audit_heads_no_delete')} BEFORE DELETE ON ${heads} ${refuse}`,
    `CREATE TRIGGER ${b.table('audit_records_no_update')} BEFORE UPDATE ON ${records} ${refuse}`,
    `CREATE TRIGGER ${b.table('audit_records_archived_only')} BEFORE DELETE ON ${records}
       WHEN OLD.seq > coalesce((SELECT archived_through FROM ${heads} WHERE chain = OLD.chain), 0)
       ${refuse}`,
    `CREATE TRIGGER ${b.table('audit_checkpoints_no_update')} BEFORE UPDATE ON ${checkpoints} ${refuse}`,
    `CREATE TRIGGER ${b.table('audit_checkpoints_no_delete')} BEFORE DELETE ON ${checkpoints} ${refuse}`,
  ];
}

/**
 * Creates an audit store over SQLite. An append starts with a write (so it holds the database's
 * write lock before it reads its chains' heads), hashes in this process and writes the records
 * and heads in one transaction (`BEGIN IMMEDIATE`, or inside yours): appenders in this process
 * and others sharing the file queue, and the chain never forks; a rollback leaves no gap. Times
 * are SQLite's clock in epoch milliseconds (an injected backend clock is not used).
 *
 * Action, actor, resource and correlation id are columns generated from the record's text,
 * indexed for the queries. Triggers refuse every change and removal of records and checkpoints
 * except {@link SqliteAuditStore.archive}'s.
 *
 * @throws TypeError naming the option when an option is invalid.
 * @example
 * ```ts
 * import Database from 'better-sqlite3';
 * import { createSqliteAuditStore, createSqliteBackend } from 'flowproof/adapters/sqlite';
 *
 * const backend = createSqliteBackend({ database: new Database('app.db') });
 * const store = createSqliteAuditStore({ backend });
 * await store.migrate();
 * ```
 */
export function createSqliteAuditStore(options: SqliteAuditStoreOptions): SqliteAuditStore {
  return createSqlAuditStore(sqliteAuditDialect, options);
}

const sqliteAuditDialect: AuditSqlDialect<SqliteBackend> = {
  sql: sqliteDialect,
  migrations: sqliteAuditStoreMigrations,
  now: SQLITE_NOW_MS,
  ...sqliteJsonRows,
  lockRows: '',
};
