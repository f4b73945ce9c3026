/**
 * The audit log's protector, backed by field encryption: personal values in an entry's `changes`
 * are stored encrypted under the data subject's own key. The audit chain hashes the stored form,
 * so shredding the subject later makes their values unreadable while every record still
 * verifies.
 */
import {
  AUDIT_REDACTED,
  AUDIT_UNREADABLE,
  type AuditProtectedField,
  type AuditProtector,
} from '../audit/audit-protector.js';
import { isFlowproofError } from '../core/errors.js';
import { readObject } from '../core/options.js';
import type { Classification } from './classification.js';
import type { FieldEncryption } from './encryption/field-encryption.js';

/** Options of {@link createEncryptingProtector}. */
export interface EncryptingProtectorOptions {
  /** Encrypts the values; the subject's key for entries that name a `subject`. */
  readonly encryption: FieldEncryption;
  /**
   * Which changed fields are personal. Classified fields are encrypted, except one-way ones
   * (`hash`, `drop`) and secrets, which are never stored (a redaction marker instead); the rest
   * are kept as they are. Without a classification every changed value of an entry that names a
   * `subject` is encrypted, and values of entries without one are kept.
   */
  readonly classification?: Classification;
}

/** The stored form of an encrypted value in an audit record. */
export interface EncryptedAuditValue {
  /** The ciphertext (field encryption's text form). */
  readonly $encrypted: string;
}

const OPTION_KEYS = ['encryption', 'classification'];
/** The table name audit values are bound to (with the column = the field, the row = the resource). */
const AUDIT_TABLE = 'audit';

/**
 * An {@link AuditProtector} that encrypts personal values under the data subject's key.
 *
 * @example
 * ```ts
 * const audit = createAuditLog({ store, protector: createEncryptingProtector({ encryption, classification }) });
 * await encryption.shred('user-42'); // user-42's values in the audit log now reveal as unreadable
 * ```
 * @throws TypeError when `encryption` is missing or `classification` is not one.
 */
export function createEncryptingProtector(options: EncryptingProtectorOptions): AuditProtector {
  options = readObject(options, 'options', OPTION_KEYS.join(' ')) as unknown as typeof options;
  const { encryption, classification } = options;
  if (
    typeof encryption !== 'object' ||
    encryption === null ||
    typeof encryption.encrypt !== 'function'
  ) {
    throw new TypeError('options.encryption must be a field encryption (createFieldEncryption)');
  }
  if (
    classification !== undefined &&
    (typeof classification !== 'object' || typeof classification?.fieldAt !== 'function')
  ) {
    throw new TypeError('options.classification must be a classification (createClassification)');
  }
  const treatment = (field: AuditProtectedField): 'keep' | 'encrypt' | 'redact' => {
    if (classification === undefined) return field.subject === undefined ? 'keep' : 'encrypt';
    const classified = classification.fieldAt(field.field.split('.'));
    if (classified === undefined) return 'keep';
    if (
      classified.category === 'secret' ||
      classified.handling === 'hash' ||
      classified.handling === 'drop'
    ) {
      return 'redact';
    }
    return 'encrypt';
  };
  const contextOf = (field: AuditProtectedField) => ({
    table: AUDIT_TABLE,
    column: field.field,
    row: `${field.resource.type}/${field.resource.id}`,
  });
  return {
    async protect(value, field) {
      const how = treatment(field);
      if (how === 'keep' || value === undefined) return value;
      if (how === 'redact') return AUDIT_REDACTED;
      const $encrypted = await encryption.encrypt(JSON.stringify(value), {
        ...contextOf(field),
        ...(field.subject === undefined ? {} : { subject: field.subject }),
      });
      return { $encrypted } satisfies EncryptedAuditValue;
    },
    async reveal(stored, field) {
      if (isRedactedMarker(stored)) return AUDIT_UNREADABLE;
      const text = (stored as Partial<EncryptedAuditValue> | null)?.$encrypted;
      if (typeof text !== 'string') return stored;
      try {
        return JSON.parse(await encryption.decrypt(text, contextOf(field))) as unknown;
      } catch (error) {
        if (isFlowproofError(error, 'KEY_SHREDDED')) return AUDIT_UNREADABLE;
        throw error;
      }
    },
  };
}

function isRedactedMarker(value: unknown): boolean {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as typeof AUDIT_REDACTED).$redacted === AUDIT_REDACTED.$redacted
  );
}
