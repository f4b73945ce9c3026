import { FlowproofError, type FlowproofErrorCode } from '../../core/errors.js';
import { missingTableError } from '../sql/missing-table-error.js';

const UNAVAILABLE_ERRNO = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
]);
// SQLSTATEs: https://www.postgresql.org/docs/current/errcodes-appendix.html
const MISCONFIGURED_SQLSTATE = new Set(['28000', '28P01', '3D000', '3F000', '42501']);
const UNAVAILABLE_SQLSTATE = new Set(['57P01', '57P02', '57P03', '53300']);

/**
 * Maps a driver error to a typed {@link FlowproofError}; flowproof errors pass through unchanged.
 *
 * @internal
 */
export function toPostgresError(error: unknown, what: string): FlowproofError {
  if (error instanceof FlowproofError) return error;
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  const text = typeof message === 'string' ? message : String(error);
  const sqlstate = typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
  if (/Cannot use a pool after calling end on the pool/.test(text)) {
    // The application ended its pool: nothing will answer again, as after close().
    return new FlowproofError('BACKEND_CLOSED', `PostgreSQL ${what} failed: the pool was ended`, {
      cause: error,
      details: { backend: 'postgres', reason: 'client-ended' },
    });
  }
  let flowproofCode: FlowproofErrorCode = 'BACKEND_ERROR';
  if (
    (typeof code === 'string' && UNAVAILABLE_ERRNO.has(code)) ||
    sqlstate?.startsWith('08') ||
    (sqlstate !== undefined && UNAVAILABLE_SQLSTATE.has(sqlstate)) ||
    /Connection terminated|connection is closed|Client has encountered a connection error/i.test(
      text,
    )
  ) {
    flowproofCode = 'BACKEND_UNAVAILABLE';
  } else if (sqlstate !== undefined && MISCONFIGURED_SQLSTATE.has(sqlstate)) {
    flowproofCode = 'BACKEND_MISCONFIGURED';
  } else if (sqlstate === '42P01') {
    // A flowproof table is missing: the component was never migrated in this schema.
    return missingTableError('PostgreSQL', what, text, error, { backend: 'postgres', sqlstate });
  } else if (sqlstate === '57014') {
    flowproofCode = 'BACKEND_TIMEOUT';
  }
  return new FlowproofError(flowproofCode, `PostgreSQL ${what} failed: ${text}`, {
    cause: error,
    details: sqlstate ? { backend: 'postgres', sqlstate } : { backend: 'postgres' },
  });
}
