import { AUDIT_STORE_COMPONENT, type AuditStore } from '../../audit/audit-store.js';
import { assertInteger, assertKnownKeys, assertOptionsObject } from '../../core/options.js';
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
import { POSTGRES_NOW_MS, postgresDialect, postgresJsonRows } from './postgres-dialect.js';

/** Options of {@link createPostgresAuditStore}. */
export interface PostgresAuditStoreOptions {
  /** The PostgreSQL backend holding the tables `<prefix>audit_*`. */
  readonly backend: PostgresBackend;
  /**
   * Close the backend in `close()`.
   * @default false
   */
  readonly ownsBackend?: boolean;
  /**
   * Partition the records table by month of `recorded_at` (with a default partition for months
   * without their own). Create the months' partitions ahead with
   * {@link createPostgresAuditPartitions}. Decided when the schema is first migrated: a store
   * with the other setting refuses the schema (`MIGRATION_FAILED`).
   * @default false
   */
  readonly partitionByMonth?: boolean;
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
 * except the deletion of records up to a chain's archive boundary; a chain's head only moves
 * forward, and its archive boundary only forward to a sequence number a checkpoint covers.
 */
export const postgresAuditStoreMigrations: MigrationSet<PostgresBackend> = auditMigrations(false);

/**
 * The schema of a PostgreSQL audit store created with `partitionByMonth` (component `audit`):
 * the records table is partitioned by range of `recorded_at`, its primary key is
 * `(chain, seq, recorded_at)`, and a default partition takes rows of months without a partition.
 */
export const postgresPartitionedAuditStoreMigrations: MigrationSet<PostgresBackend> =
  auditMigrations(true);

function auditMigrations(partitioned: boolean): MigrationSet<PostgresBackend> {
  return {
    component: AUDIT_STORE_COMPONENT,
    migrations: [
      {
        version: 1,
        name: partitioned
          ? 'audit records partitioned by month, heads, checkpoints and verification markers'
          : 'audit records, heads, checkpoints and verification markers',
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
              ...(partitioned ? { partitionBy: 'recorded_at' } : {}),
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
          // A head moves forward only, and its archive boundary only forward to a checkpoint: a
          // boundary moved by hand would let records go, a head moved back would fork the chain.
          const headGuard = b.table('audit_head_forward_only');
          await b.execute(
            `CREATE FUNCTION ${headGuard}() RETURNS trigger LANGUAGE plpgsql AS $fn$
           BEGIN
             IF NEW.chain = OLD.chain AND NEW.seq >= OLD.seq
                AND NEW.archived_through > OLD.archived_through AND NEW.archived_through <= NEW.seq
                AND EXISTS (SELECT 1 FROM ${checkpoints}
                             WHERE chain = NEW.chain AND seq = NEW.archived_through) THEN
               RETURN NEW;
             END IF;
             ${raise};
           END $fn$`,
          );
          const triggers = [
            // An append moves seq forward and leaves the boundary: the function is not called.
            `${local('audit_heads_forward_only')} BEFORE UPDATE ON ${heads} FOR EACH ROW
             WHEN (NEW.archived_through IS DISTINCT FROM OLD.archived_through
                   OR NEW.seq < OLD.seq OR NEW.chain IS DISTINCT FROM OLD.chain)
             EXECUTE FUNCTION ${headGuard}()`,
            `${local('audit_heads_no_delete')} BEFORE DELETE ON ${heads}
             FOR EACH ROW EXECUTE FUNCTION ${refuse}()`,
            `${local('audit_heads_no_truncate')} BEFORE TRUNCATE ON ${heads}
             FOR EACH STATEMENT EXECUTE FUNCTION ${refuse}()`,
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
          if (partitioned) {
            await b.execute(`CREATE TABLE ${b.table(`${AUDIT_TABLES.records}_default`)}
             PARTITION OF ${records} DEFAULT`);
            await b.execute(partitionTruncateTrigger(b, `${AUDIT_TABLES.records}_default`));
          }
        },
      },
    ],
  };
}

/**
 * A partition does not inherit its parent's statement triggers: each refuses `TRUNCATE` itself.
 */
function partitionTruncateTrigger(b: PostgresBackend, partition: string): string {
  return `CREATE TRIGGER "${b.tablePrefix}${partition}_no_truncate" BEFORE TRUNCATE
     ON ${b.table(partition)} FOR EACH STATEMENT
     EXECUTE FUNCTION ${b.table('audit_refuse_change')}()`;
}

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
  assertOptionsObject(options, 'options');
  assertKnownKeys(options, ['backend', 'ownsBackend', 'partitionByMonth'], 'options');
  const { partitionByMonth, ...storeOptions } = options;
  if (partitionByMonth !== undefined && typeof partitionByMonth !== 'boolean') {
    throw new TypeError('options.partitionByMonth must be a boolean');
  }
  return createSqlAuditStore(
    partitionByMonth ? partitionedPostgresAuditDialect : postgresAuditDialect,
    storeOptions,
  );
}

/** Options of {@link createPostgresAuditPartitions}. */
export interface PostgresAuditPartitionOptions {
  /** The backend of a store created with `partitionByMonth`, migrated. */
  readonly backend: PostgresBackend;
  /** How many months, from the month of `from`. */
  readonly months: number;
  /**
   * The first month's date (UTC).
   * @default now
   */
  readonly from?: Date;
}

/**
 * Creates the monthly partitions of a partitioned audit records table (see
 * `partitionByMonth`) for `months` months from `from`'s month, skipping those that exist, and
 * returns the names it created. Run it ahead of time, e.g. monthly for the next three months: a
 * month's partition cannot be created once the default partition holds rows of that month.
 *
 * @throws TypeError naming the option when an option is invalid, or when the records table of
 * `backend` was created without `partitionByMonth`.
 * @example
 * ```ts
 * await createPostgresAuditPartitions({ backend, months: 3 });
 * ```
 */
export async function createPostgresAuditPartitions(
  options: PostgresAuditPartitionOptions,
): Promise<string[]> {
  assertOptionsObject(options, 'options');
  assertKnownKeys(options, ['backend', 'months', 'from'], 'options');
  const { backend } = options;
  if ((backend as { kind?: unknown } | undefined)?.kind !== 'postgres') {
    throw new TypeError('options.backend must be a PostgreSQL backend (createPostgresBackend())');
  }
  assertInteger(options.months, 'options.months', 1, 1200);
  const from = options.from ?? new Date();
  if (!(from instanceof Date) || Number.isNaN(from.getTime())) {
    throw new TypeError('options.from must be a valid Date');
  }
  // A plain records table cannot take partitions; PostgreSQL would only say "is not partitioned".
  const [records] = await backend.query<{ kind: string | null }>(
    'SELECT (SELECT relkind::text FROM pg_class WHERE oid = to_regclass($1)) AS kind',
    [backend.table(AUDIT_TABLES.records)],
  );
  if (records?.kind === 'r') {
    throw new TypeError(
      `options.backend's audit records table ${backend.table(AUDIT_TABLES.records)} is not partitioned: its store was created without partitionByMonth: true`,
    );
  }
  const created: string[] = [];
  for (let i = 0; i < options.months; i++) {
    const start = Date.UTC(from.getUTCFullYear(), from.getUTCMonth() + i, 1);
    const end = Date.UTC(from.getUTCFullYear(), from.getUTCMonth() + i + 1, 1);
    const month = new Date(start).toISOString().slice(0, 7).replace('-', '_');
    const partition = `${AUDIT_TABLES.records}_${month}`;
    const [exists] = await backend.query<{ found: boolean }>(
      'SELECT to_regclass($1) IS NOT NULL AS found',
      [backend.table(partition)],
    );
    if (exists?.found) continue;
    await backend.transaction(async (tx) => {
      await tx.execute(
        `CREATE TABLE ${tx.table(partition)} PARTITION OF ${tx.table(AUDIT_TABLES.records)}
           FOR VALUES FROM (${start}) TO (${end})`,
      );
      await tx.execute(partitionTruncateTrigger(tx, partition));
    });
    created.push(backend.table(partition));
  }
  return created;
}

const postgresAuditDialect: AuditSqlDialect<PostgresBackend> = {
  sql: postgresDialect,
  migrations: postgresAuditStoreMigrations,
  now: POSTGRES_NOW_MS,
  ...postgresJsonRows,
  lockRows: 'FOR UPDATE',
  sha256Hex: (expression) => `encode(sha256(convert_to(${expression}, 'UTF8')), 'hex')`,
};

const partitionedPostgresAuditDialect: AuditSqlDialect<PostgresBackend> = {
  ...postgresAuditDialect,
  migrations: postgresPartitionedAuditStoreMigrations,
};
