/**
 * Errors as data: what a module records about a failure (a saga's log, an outbox message's last
 * publish error, a dead letter) so it survives a restart and reads the same in every store.
 */
import { FlowproofError } from './errors.js';

/** An error recorded as JSON data. */
export interface ErrorRecord {
  /** The error's name (`TypeError`, `FlowproofError`, your class's name). */
  readonly name: string;
  /** Its message. */
  readonly message: string;
  /** A FlowproofError's code, or the `code` property of other errors when it is a string. */
  readonly code?: string;
  /** A FlowproofError's details (what docs/errors.md lists for its code). */
  readonly details?: Readonly<Record<string, unknown>>;
}

/** `error` as JSON data: name, message, code and (for a FlowproofError) details. */
export function errorRecord(error: unknown): ErrorRecord {
  if (error instanceof Error) {
    const code =
      error instanceof FlowproofError
        ? error.code
        : typeof (error as { code?: unknown }).code === 'string'
          ? (error as unknown as { code: string }).code
          : undefined;
    const inner = (error as { originalError?: unknown }).originalError;
    // p-retry's AbortError wraps the error that stopped the retries: record that one.
    if (error.name === 'AbortError' && inner instanceof Error) return errorRecord(inner);
    // A FlowproofError's details are JSON data by design: kept, so `reason` and the like survive.
    const details =
      error instanceof FlowproofError && Object.keys(error.details ?? {}).length > 0
        ? { details: error.details as Readonly<Record<string, unknown>> }
        : {};
    return code === undefined
      ? { name: error.name, message: error.message }
      : { name: error.name, message: error.message, code, ...details };
  }
  return { name: typeof error, message: String(error) };
}
