import type { SqlBatchDelete, SqlDialect, SqlJsonRows } from '../sql/sql-dialect.js';
import type { SqliteBackend } from './sqlite-backend.js';

/**
 * SQLite's spelling of the shared SQL stores' statements: `?` placeholders, no casts (columns are
 * TEXT), JSON and times stored and read back as text.
 */
export const sqliteDialect: SqlDialect<SqliteBackend> = {
  kind: 'sqlite',
  label: 'SQLite',
  backendFactory: 'createSqliteBackend',
  param: () => '?',
  jsonText: (column) => column,
  // Times are written as UTC ISO-8601 text and come back as written.
  isoTime: (value) => value as string,
};

/** SQLite's clock in epoch milliseconds; 'now' is stable within one statement. */
export const SQLITE_NOW_MS = "CAST(ROUND((julianday('now') - 2440587.5) * 86400000) AS INTEGER)";

/** SQLite's reading of rows passed as one JSON array of arrays (`json_each`). */
export const sqliteJsonRows: SqlJsonRows = {
  rows: (placeholder) => `json_each(${placeholder}) AS r`,
  field: (i) => `json_extract(r.value, '$[${i}]')`,
  rowOrder: 'r.key',
};

/** SQLite's batch `DELETE` by `rowid` (a write locks the whole database: nothing to skip). */
export const sqliteBatchDelete: SqlBatchDelete = {
  key: 'rowid',
  lock: '',
  match: (key, subquery) => `${key} IN (${subquery})`,
};
