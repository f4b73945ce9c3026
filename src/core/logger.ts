/**
 * The logging port. flowproof logs through any pino-compatible logger the application passes in
 * and is silent otherwise; every line carries the flow context's correlation id.
 */
import { getContext } from './context.js';
import { readable } from './options.js';
import { processSingleton } from './process-singleton.js';

/** One log method in pino's `(object, message)` form. */
export type LogMethod = (fields: Record<string, unknown>, message?: string) => void;

/** The subset of pino's API flowproof calls; pino, and loggers shaped like it, fit. */
export interface Logger {
  /** Fine-grained diagnostics. */
  debug: LogMethod;
  /** Normal operation worth recording. */
  info: LogMethod;
  /** Something unexpected that flowproof handled. */
  warn: LogMethod;
  /** A failure. */
  error: LogMethod;
  /** A logger whose lines all carry `bindings`. */
  child(bindings: Record<string, unknown>): Logger;
}

/** Log levels flowproof uses. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const noop: LogMethod = () => {};

/** A logger that discards everything; the default for every module. */
export const silentLogger: Logger = Object.freeze({
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
  child: () => silentLogger,
});

/**
 * Checks that `logger` has the methods flowproof calls.
 *
 * @throws TypeError naming `name` when a method is missing.
 * @internal
 */
export function assertLogger(logger: unknown, name = 'logger'): asserts logger is Logger {
  for (const method of ['debug', 'info', 'warn', 'error', 'child'] as const) {
    const found = readable(name, () => (logger as Record<string, unknown> | null)?.[method]);
    if (typeof found !== 'function') {
      throw new TypeError(`${name} must be a pino-compatible logger (missing ${method}())`);
    }
  }
}

/**
 * Writes one line through `logger` with the current flow context's correlation id, causation id
 * and tenant added. Modules call this instead of the logger directly.
 *
 * Logging never changes what an operation does: a logger that throws (a full disk, a broken
 * transport) is reported once, as a process warning, and its later failures are ignored; a warning
 * per line would flood stderr from a logger that fails on every call.
 *
 * @returns whether the line was written (false for the silent logger and for a logger that threw).
 * @internal
 */
export function logEvent(
  logger: Logger,
  level: LogLevel,
  fields: Record<string, unknown>,
  message: string,
): boolean {
  if (logger === silentLogger) return false;
  const context = getContext();
  try {
    logger[level](
      context
        ? {
            correlationId: context.correlationId,
            ...(context.causationId ? { causationId: context.causationId } : {}),
            ...(context.tenant ? { tenant: context.tenant } : {}),
            ...fields,
          }
        : fields,
      message,
    );
    return true;
  } catch (error) {
    if (!failedLoggers.has(logger)) {
      failedLoggers.add(logger);
      process.emitWarning(
        `A logger given to flowproof threw (${error instanceof Error ? error.message : String(error)}); its later failures are not reported`,
      );
    }
    return false;
  }
}

/** Loggers whose failure was already reported, by any copy of flowproof in the process. */
const failedLoggers = processSingleton('logger.failed', 1, () => new WeakSet<Logger>());
