import { FlowproofError, type FlowproofErrorCode } from '../../core/errors.js';
import { missingTableError } from '../sql/missing-table-error.js';

/**
 * Maps a SQLite driver error to a typed {@link FlowproofError}; flowproof errors pass through.
 *
 * @internal
 */
export function toSqliteError(error: unknown, what: string): FlowproofError {
  if (error instanceof FlowproofError) return error;
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  const text = typeof message === 'string' ? message : String(error);
  const sqliteCode = typeof code === 'string' ? code : undefined;
  let flowproofCode: FlowproofErrorCode = 'BACKEND_ERROR';
  if (sqliteCode === 'SQLITE_BUSY' || sqliteCode === 'SQLITE_LOCKED')
    flowproofCode = 'BACKEND_TIMEOUT';
  else if (/no such table/i.test(text)) {
    const details = sqliteCode ? { backend: 'sqlite', sqliteCode } : { backend: 'sqlite' };
    return missingTableError('SQLite', what, text, error, details);
  } else if (isClosedConnectionError(text)) {
    return new FlowproofError(
      'BACKEND_CLOSED',
      `SQLite ${what} failed: the database connection was closed by its owner (${text})`,
      { cause: error, details: { backend: 'sqlite', reason: 'database-closed' } },
    );
  } else if (sqliteCode === 'SQLITE_CANTOPEN' || sqliteCode === 'SQLITE_READONLY') {
    flowproofCode = 'BACKEND_MISCONFIGURED';
  }
  return new FlowproofError(flowproofCode, `SQLite ${what} failed: ${text}`, {
    cause: error,
    details: sqliteCode ? { backend: 'sqlite', sqliteCode } : { backend: 'sqlite' },
  });
}

/** better-sqlite3 ("The database connection is not open") or node:sqlite ("database is not open"). */
function isClosedConnectionError(text: string): boolean {
  return /database (connection )?is not open/i.test(text);
}

/**
 * `BACKEND_CLOSED` when `database` reports itself closed (better-sqlite3's `open`, node:sqlite's
 * `isOpen`), so a closed connection is named as such before the driver is called.
 *
 * @internal
 */
export function assertDatabaseOpen(database: object, what: string): void {
  const { open, isOpen } = database as { open?: unknown; isOpen?: unknown };
  if (open === false || isOpen === false) {
    throw new FlowproofError(
      'BACKEND_CLOSED',
      `SQLite ${what} failed: the database connection was closed by its owner`,
      { details: { backend: 'sqlite', reason: 'database-closed' } },
    );
  }
}
