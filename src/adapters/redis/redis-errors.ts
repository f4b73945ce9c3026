import { FlowproofError, type FlowproofErrorCode } from '../../core/errors.js';

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
// Error replies: the first word of the message, e.g. `NOAUTH Authentication required.`
const MISCONFIGURED_REPLY = new Set(['NOAUTH', 'WRONGPASS', 'NOPERM']);
// Transient server states: loading, failover, resharding, a long-running script.
const UNAVAILABLE_REPLY = new Set([
  'LOADING',
  'MASTERDOWN',
  'CLUSTERDOWN',
  'TRYAGAIN',
  'READONLY',
  'BUSY',
]);
// ioredis' own failures while it has no usable connection.
const UNAVAILABLE_MESSAGE =
  /Connection is closed|max retries per request|enableOfflineQueue options is false|None of startup nodes is available|Cluster isn't ready|Failed to refresh slots cache/i;

/**
 * Maps an ioredis or network error to a typed {@link FlowproofError}. Flowproof errors pass
 * through, except that a `BACKEND_TIMEOUT` becomes `BACKEND_UNAVAILABLE` when `status` (the
 * client's connection status at the time) is not `ready`: the command was waiting in ioredis'
 * offline queue for a connection, not running on the server.
 *
 * @internal
 */
export function toRedisError(error: unknown, what: string, status?: string): FlowproofError {
  const notReady = status !== undefined && status !== 'ready';
  if (error instanceof FlowproofError) {
    if (error.code !== 'BACKEND_TIMEOUT' || !notReady) return error;
    return new FlowproofError(
      'BACKEND_UNAVAILABLE',
      `Redis ${what} failed: no connection to Redis within ${String(error.details.timeoutMs)} ms (client status "${status}")`,
      { cause: error, details: { ...error.details, backend: 'redis', status } },
    );
  }
  const { code, message, name } = (error ?? {}) as {
    code?: unknown;
    message?: unknown;
    name?: unknown;
  };
  const text = typeof message === 'string' ? message : String(error);
  const reply = name === 'ReplyError' ? /^([A-Z][A-Z_-]*)\b/.exec(text)?.[1] : undefined;
  let flowproofCode: FlowproofErrorCode = 'BACKEND_ERROR';
  if (reply !== undefined) {
    if (MISCONFIGURED_REPLY.has(reply)) flowproofCode = 'BACKEND_MISCONFIGURED';
    else if (UNAVAILABLE_REPLY.has(reply)) flowproofCode = 'BACKEND_UNAVAILABLE';
  } else if (
    (typeof code === 'string' && UNAVAILABLE_ERRNO.has(code)) ||
    name === 'MaxRetriesPerRequestError' ||
    UNAVAILABLE_MESSAGE.test(text) ||
    notReady
  ) {
    flowproofCode = 'BACKEND_UNAVAILABLE';
  }
  return new FlowproofError(flowproofCode, `Redis ${what} failed: ${text}`, {
    cause: error,
    details: reply ? { backend: 'redis', redisCode: reply } : { backend: 'redis' },
  });
}
