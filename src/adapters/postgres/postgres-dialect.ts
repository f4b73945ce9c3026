import type { SqlBatchDelete, SqlDialect, SqlJsonRows } from '../sql/sql-dialect.js';
import type { PostgresBackend } from './postgres-backend.js';

/**
 * PostgreSQL's spelling of the shared SQL stores' statements: numbered `$n` placeholders, casts
 * where a text parameter must become `jsonb` or `timestamptz`, JSON read back as text.
 */
export const postgresDialect: SqlDialect<PostgresBackend> = {
  kind: 'postgres',
  label: 'PostgreSQL',
  backendFactory: 'createPostgresBackend',
  param: (n, type) => (type === undefined ? `$${n}` : `$${n}::${type}`),
  // As text: `jsonb` would come back parsed, and SQL NULL could not be told from JSON null.
  jsonText: (column) => `${column}::text AS ${column}`,
  // `timestamptz` arrives as a `Date` (pg, PGlite) or, with custom type parsers, as text.
  isoTime: (value) => (value instanceof Date ? value : new Date(value)).toISOString(),
};

/** The server's clock in epoch milliseconds; clock_timestamp(), as now() is frozen per transaction. */
export const POSTGRES_NOW_MS = 'floor(extract(epoch from clock_timestamp()) * 1000)::bigint';

/** PostgreSQL's reading of rows passed as one `jsonb` array of arrays. */
export const postgresJsonRows: SqlJsonRows = {
  rows: (placeholder) =>
    `jsonb_array_elements(${placeholder}::jsonb) WITH ORDINALITY AS r(value, ord)`,
  field: (i, type) =>
    type === 'text'
      ? `(r.value->>${i})`
      : `(r.value->>${i})::${type === 'json' ? 'jsonb' : 'bigint'}`,
  rowOrder: 'r.ord',
};

/**
 * PostgreSQL's batch `DELETE` by `id`: rows another delete holds are skipped rather than waited
 * for, and the ids are computed first as one array the `DELETE` probes the primary key with.
 */
export const postgresBatchDelete: SqlBatchDelete = {
  key: 'id',
  lock: 'FOR UPDATE SKIP LOCKED',
  match: (key, subquery) => `${key} = ANY(ARRAY(${subquery}))`,
};
