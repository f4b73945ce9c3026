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
import type { PostgresBackend } from './postgres-backend.js';
import { POSTGRES_NOW_MS, postgresDialect } from './postgres-dialect.js';

/** Options of {@link createPostgresAuditStore}. */
export interface PostgresAuditStoreOptions {
  /** The PostgreSQL backend holding the tables `<prefix>audit_*`. */
  readonly backend: PostgresBackend;
  /**
   * Close the backend in `close()`.
   * @default false
   */
  readonly ownsBackend?: boolean;
}

/** The {@link AuditStore} over a {@link PostgresBackend}. */
export interface PostgresAuditStore extends AuditStore<PostgresBackend> {
  /** Always `postgres`. */
  readonly kind: 'postgres';
  /** The backend. */
  readonly backend: PostgresBackend;
  /**
   * The same store over `backend`: pass `backend.withTransactionClient(client)` (the connection
   * your transaction runs on) or the backend `backend.transaction()` gives its callback, and
   * records appended through it commit or roll back with your writes.
   *
   * @throws TypeError when `backend` is not a PostgreSQL backend.
   */
  withBackend(backend: PostgresBackend): PostgresAuditStore;
}

/**
 * The schema of the PostgreSQL audit store (component `audit`), applied by
 * {@link PostgresAuditStore.migrate}; exported for applications that run migrations with their
 * own tooling. Triggers refuse `UPDATE`, `DELETE` and `TRUNCATE` of records and checkpoints,
 * except the deletion of records up to a chain's archive boundary.
 */
export const postgresAuditStoreMigrations: MigrationSet<PostgresBackend> = {
  component: AUDIT_STORE_COMPONENT,
  migrations: [
    {
      version: 1,
      name: 'audit records, heads, checkpoints and verification markers',
      up: async (b) => {
        const records = b.table(AUDIT_TABLES.records);
        const heads = b.table(AUDIT_TABLES.heads);
        const checkpoints = b.table(AUDIT_TABLES.checkpoints);
        // An index or trigger lives in its table's schema, so its name is not schema-qualified.
        const local = (name: string) => `"${b.tablePrefix}${name}"`;
        const index = (suffix: string) => local(`${AUDIT_TABLES.records}_${suffix}`);
        const tables = auditTables(
          { records, heads, checkpoints, verified: b.table(AUDIT_TABLES.verified) },
          {
            text: 'text',
            integer: 'bigint',
            member: (path) =>
              `GENERATED ALWAYS AS ((body::jsonb)${path.map((key, i) => `${i === path.length - 1 ? '->>' : '->'}'${key}'`).join('')}) STORED`,
            recordsOptions: '',
          },
        );
        for (const ddl of tables) await b.execute(ddl);
        for (const ddl of auditRecordIndexes(records, index)) await b.execute(ddl);
        const refuse = b.table('audit_refuse_change');
        const archivedOnly = b.table('audit_delete_archived_only');
        const raise = `RAISE EXCEPTION '${AUDIT_APPEND_ONLY_MESSAGE}'`;
        await b.execute(
          `CREATE FUNCTION ${refuse}() RETURNS trigger LANGUAGE plpgsql AS $fn$
           BEGIN ${raise}; END $fn$`,
        );
        // A record may go once its sequence number is within its chain's archive boundary.
        await b.execute(
          `CREATE FUNCTION ${archivedOnly}() RETURNS trigger LANGUAGE plpgsql AS $fn$
           BEGIN
             IF OLD.seq <= (SELECT archived_through FROM ${heads} WHERE chain = OLD.chain) THEN
               RETURN OLD;
             END IF;
             ${raise};
           END $fn$`,
        );
        const triggers = [
          `${local('audit_records_no_update')} BEFORE UPDATE ON ${records}
             FOR EACH ROW EXECUTE FUNCTION ${refuse}()`,
          `${local('audit_records_archived_only')} BEFORE DELETE ON ${records}
             FOR EACH ROW EXECUTE FUNCTION ${archivedOnly}()`,
          `${local('audit_records_no_truncate')} BEFORE TRUNCATE ON ${records}
             FOR EACH STATEMENT EXECUTE FUNCTION ${refuse}()`,
          `${local('audit_checkpoints_no_change')} BEFORE UPDATE OR DELETE ON ${checkpoints}
             FOR EACH ROW EXECUTE FUNCTION ${refuse}()`,
          `${local('audit_checkpoints_no_truncate')} BEFORE TRUNCATE ON ${checkpoints}
             FOR EACH STATEMENT EXECUTE FUNCTION ${refuse}()`,
        ];
        for (const trigger of triggers) await b.execute(`CREATE TRIGGER ${trigger}`);
      },
    },
  ],
};

/**
 * Creates an audit store over PostgreSQL (a `pg.Pool`, a `pg.Client` or PGlite through
 * {@link PostgresBackend}). One record is appended in one statement that moves its chain's head
 * and inserts the record, the hash computed by the server, so the head's row is locked only for
 * that statement (or, inside your transaction, until it ends: concurrent appenders queue on it
 * and the chain never forks; a rollback leaves no gap). Several records lock their chains' heads
 * in name order and are written in one transaction. Times are the server's `clock_timestamp()`
 * in epoch milliseconds.
 *
 * Records are kept as text (the bytes the hash covers); action, actor, resource and correlation
 * id are columns generated from it, indexed for the queries. Triggers refuse every change and
 * removal of records and checkpoints except {@link PostgresAuditStore.archive}'s.
 *
 * @throws TypeError naming the option when an option is invalid.
 * @example
 * ```ts
 * import pg from 'pg';
 * import { createPostgresAuditStore, createPostgresBackend } from 'flowproof/adapters/postgres';
 *
 * const backend = createPostgresBackend({ client: new pg.Pool({ connectionString }) });
 * const store = createPostgresAuditStore({ backend });
 * await store.migrate();
 * ```
 */
export function createPostgresAuditStore(options: PostgresAuditStoreOptions): PostgresAuditStore {
  return createSqlAuditStore(postgresAuditDialect, options);
}

const postgresAuditDialect: AuditSqlDialect<PostgresBackend> = {
  sql: postgresDialect,
  migrations: postgresAuditStoreMigrations,
  now: POSTGRES_NOW_MS,
  rows: (placeholder) =>
    `jsonb_array_elements(${placeholder}::jsonb) WITH ORDINALITY AS r(value, ord)`,
  field: (i, type) => (type === 'text' ? `(r.value->>${i})` : `(r.value->>${i})::bigint`),
  rowOrder: 'r.ord',
  lockRows: 'FOR UPDATE',
  sha256Hex: (expression) => `encode(sha256(convert_to(${expression}, 'UTF8')), 'hex')`,
};
