/**
 * The protector port: how personal data in an entry's `changes` is stored — redacted, or
 * encrypted under the data subject's key — before the record is hashed. The chain covers the
 * stored form, so destroying a subject's key later (crypto-shredding) makes their values
 * unreadable while every record still verifies.
 */
import type { AuditResource } from './audit-entry.js';

/** Returned by {@link AuditProtector.reveal} for a value that can no longer be read. */
export const AUDIT_UNREADABLE: unique symbol = Symbol.for('flowproof.audit.unreadable') as never;

/** Which value a protector is asked about. */
export interface AuditProtectedField {
  /** The change's field path, e.g. `email`. */
  readonly field: string;
  /** Whether it is the value before or after the change. */
  readonly side: 'before' | 'after';
  /** The entry's data subject, when it names one. */
  readonly subject: string | undefined;
  /** The entry's resource. */
  readonly resource: AuditResource;
  /** The entry's action. */
  readonly action: string;
}

/**
 * Turns change values into what is stored, and back. The application supplies it (the privacy
 * module provides one driven by its classification); each method may be synchronous or return
 * a promise.
 */
export interface AuditProtector {
  /**
   * The stored form of `value`: the value itself (not personal), a redaction marker, or a
   * ciphertext under the subject's key. Must return JSON data. Throwing fails the `record` call
   * with `AUDIT_PROTECTOR_FAILED`; nothing is written.
   */
  protect(value: unknown, field: AuditProtectedField): unknown;
  /**
   * The value back from its stored form, or {@link AUDIT_UNREADABLE} when it cannot be read any
   * more (its key was destroyed, or it was redacted).
   */
  reveal(stored: unknown, field: AuditProtectedField): unknown;
}

/** The marker {@link createRedactingProtector} stores instead of a value. */
export const AUDIT_REDACTED: Readonly<{
  /** Always `true`: the value was never stored. */
  $redacted: true;
}> = Object.freeze({ $redacted: true });

/**
 * A protector that stores `[redacted]` markers instead of the values of the listed fields (exact
 * paths, or a prefix ending in `.*`) and keeps every other value as it is.
 *
 * @example
 * ```ts
 * const audit = createAuditLog({ store, protector: createRedactingProtector(['password', 'card.*']) });
 * ```
 * @throws TypeError when `fields` is not an array of non-empty strings.
 */
export function createRedactingProtector(fields: readonly string[]): AuditProtector {
  if (!Array.isArray(fields) || fields.some((f) => typeof f !== 'string' || f === '')) {
    throw new TypeError('fields must be an array of non-empty field paths');
  }
  const exact = new Set(fields.filter((f) => !f.endsWith('.*')));
  const prefixes = fields.filter((f) => f.endsWith('.*')).map((f) => f.slice(0, -1));
  const redacts = (field: string) =>
    exact.has(field) || prefixes.some((prefix) => field.startsWith(prefix));
  return {
    protect: (value, { field }) => (redacts(field) ? AUDIT_REDACTED : value),
    reveal: (stored, { field }) =>
      redacts(field) && isRedacted(stored) ? AUDIT_UNREADABLE : stored,
  };
}

function isRedacted(value: unknown): boolean {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { $redacted?: unknown }).$redacted === true
  );
}
