import { readObject } from '../../core/options.js';
import type { SweepKey, TableSweeper } from '../../retention/table-sweeper.js';
import {
  compareSqliteKeys,
  createSqlTableSweeper,
  type TableSweeperSpelling,
} from '../sql/sql-table-sweeper.js';
import type { SqliteBackend } from './sqlite-backend.js';

/** Options of {@link createSqliteTableSweeper}. */
export interface SqliteTableSweeperOptions {
  /** The backend on the database that holds the application's tables. */
  readonly backend: SqliteBackend;
}

/**
 * SQLite's spelling: lists as one JSON parameter read with `json_each`, no row locks (a write
 * locks the database), the batch's keys returned by `RETURNING` and the last one found here.
 */
const sqliteSpelling: TableSweeperSpelling = {
  kind: 'sqlite',
  label: 'SQLite',
  backendFactory: 'createSqliteBackend',
  param: () => '?',
  inList: (column, placeholder) => `${column} IN (SELECT value FROM json_each(${placeholder}))`,
  list: (values) => JSON.stringify(values),
  distinct: (a, b) => `${a} IS NOT ${b}`,
  lock: '',
  subjectLock: '',
  match: (key, subquery) => `${key} IN (${subquery})`,
  batch: (write) => write,
  result: (rows) => {
    let last: SweepKey | null = null;
    for (const row of rows) {
      const key = row.k as SweepKey;
      if (last === null || compareSqliteKeys(key, last) > 0) last = key;
    }
    return { count: rows.length, lastKey: last };
  },
};

/**
 * The {@link TableSweeper} for application tables on SQLite (3.35+ for `RETURNING`): each call is
 * one statement. A `'timestamp'` column must hold UTC ISO-8601 text as `Date#toISOString()`
 * writes it: it is compared as text (other spellings compare wrongly).
 *
 * @example
 * ```ts
 * const sweeper = createSqliteTableSweeper({ backend });
 * ```
 * @throws TypeError when `options.backend` is not a SQLite backend.
 * @throws FlowproofError `BACKEND_*` from its calls, `SCHEMA_OUTDATED` for a missing table.
 */
export function createSqliteTableSweeper(options: SqliteTableSweeperOptions): TableSweeper {
  const { backend } = readObject(options, 'options', 'backend');
  if ((backend as { kind?: unknown } | undefined)?.kind !== 'sqlite') {
    throw new TypeError('options.backend must be a SQLite backend (createSqliteBackend())');
  }
  return createSqlTableSweeper(backend as SqliteBackend, sqliteSpelling);
}
