/**
 * A logger for tests that records every line instead of writing it, so a test can assert on what
 * flowproof logged (and on what it must never log, such as payload values).
 */
import type { Logger, LogLevel } from '../../src/core/logger.js';

/** One line written through a {@link recordingLogger}. */
export interface LoggedLine {
  /** The method that was called. */
  readonly level: LogLevel;
  /** The fields object, as passed (it carries the correlation id flowproof adds). */
  readonly fields: Record<string, unknown>;
  /** The message, when one was passed. */
  readonly message: string | undefined;
}

/** A {@link Logger} that keeps its lines in `lines`. */
export interface RecordingLogger extends Logger {
  /** Every line written so far, oldest first, including those of child loggers. */
  readonly lines: readonly LoggedLine[];
}

/**
 * A logger that records lines. `child()` returns the same logger: a module that logs through a
 * child still lands in `lines`, and no test needs the child bindings.
 */
export function recordingLogger(): RecordingLogger {
  const lines: LoggedLine[] = [];
  const at =
    (level: LogLevel) =>
    (fields: Record<string, unknown>, message?: string): void => {
      lines.push({ level, fields, message });
    };
  const logger: RecordingLogger = {
    lines,
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: () => logger,
  };
  return logger;
}
