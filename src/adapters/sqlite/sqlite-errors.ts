import { FlowproofError, type FlowproofErrorCode } from '../../core/errors.js';

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
  else if (/no such table/i.test(text)) flowproofCode = 'SCHEMA_OUTDATED';
  else if (/database connection is not open|The database connection is not open/i.test(text)) {
    flowproofCode = 'BACKEND_CLOSED';
  } else if (sqliteCode === 'SQLITE_CANTOPEN' || sqliteCode === 'SQLITE_READONLY') {
    flowproofCode = 'BACKEND_MISCONFIGURED';
  }
  return new FlowproofError(flowproofCode, `SQLite ${what} failed: ${text}`, {
    cause: error,
    details: sqliteCode ? { backend: 'sqlite', sqliteCode } : { backend: 'sqlite' },
  });
}
