import { readObject } from '../../core/options.js';
import type { TableSweeper } from '../../retention/table-sweeper.js';
import { createSqlTableSweeper, type TableSweeperSpelling } from '../sql/sql-table-sweeper.js';
import type { PostgresBackend } from './postgres-backend.js';

/** Options of {@link createPostgresTableSweeper}. */
export interface PostgresTableSweeperOptions {
  /** The backend on the database that holds the application's tables. */
  readonly backend: PostgresBackend;
}

/**
 * PostgreSQL's spelling: the batch's keys are picked with `FOR UPDATE SKIP LOCKED` (two sweepers
 * take different rows; a row the application holds is left for the next sweep) and computed
 * first as one array the write probes the key index with; a CTE returns count and last key.
 */
const postgresSpelling: TableSweeperSpelling = {
  kind: 'postgres',
  label: 'PostgreSQL',
  backendFactory: 'createPostgresBackend',
  param: (n) => `$${n}`,
  // The list's type is inferred from the column (text, integer, uuid all fit).
  inList: (column, placeholder) => `${column} = ANY(${placeholder})`,
  list: (values) => [...values],
  distinct: (a, b) => `${a} IS DISTINCT FROM ${b}`,
  lock: 'FOR UPDATE SKIP LOCKED',
  // An erasure waits for a row the application holds rather than skipping it.
  subjectLock: 'FOR UPDATE',
  match: (key, subquery) => `${key} = ANY(ARRAY(${subquery}))`,
  batch: (write) =>
    `WITH d AS (${write})
     SELECT count(*) AS n, (SELECT k::text FROM d ORDER BY k DESC LIMIT 1) AS last FROM d`,
  result: (rows) => {
    const row = rows[0] ?? {};
    const last = row.last;
    return { count: Number(row.n ?? 0), lastKey: typeof last === 'string' ? last : null };
  },
};

/**
 * The {@link TableSweeper} for application tables on PostgreSQL: each call is one statement (one
 * short transaction) over one keyset batch. Keys come back as text (`lastKey`) and are compared
 * in the key column's own type. A `timestamp` column without time zone is read as UTC.
 *
 * @example
 * ```ts
 * const sweeper = createPostgresTableSweeper({ backend });
 * const retention = createRetention({ ..., tables: [
 *   { table: 'session_logs', dataType: 'session_logs', timestamp: 'created_at', subject: 'user_id', sweeper },
 * ] });
 * ```
 * @throws TypeError when `options.backend` is not a PostgreSQL backend.
 * @throws FlowproofError `BACKEND_*` from its calls, `SCHEMA_OUTDATED` for a missing table.
 */
export function createPostgresTableSweeper(options: PostgresTableSweeperOptions): TableSweeper {
  const { backend } = readObject(options, 'options', 'backend');
  if ((backend as { kind?: unknown } | undefined)?.kind !== 'postgres') {
    throw new TypeError('options.backend must be a PostgreSQL backend (createPostgresBackend())');
  }
  return createSqlTableSweeper(backend as PostgresBackend, postgresSpelling);
}
