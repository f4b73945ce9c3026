/**
 * Crypto-shredding: destroying a data subject's key, so that everything encrypted for them —
 * in the database, its backups, exports and logs — can never be read again.
 */
import type { AuditActor, AuditEntry } from '../../audit/audit-entry.js';
import { describeValue } from '../../core/errors.js';
import { logEvent } from '../../core/logger.js';
import { readObject } from '../../core/options.js';
import type { DataKeyStore } from '../data-key-store.js';
import type { Keyring } from './keyring.js';

/** The audit action a shred is recorded under. */
export const SUBJECT_KEY_SHREDDED_ACTION = 'privacy.subject-key.shredded';

/**
 * The part of an audit log shredding uses: `createAuditLog(...)` fits. Its store must be on the
 * same backend as the key store for `transaction` to cover both.
 */
export interface ShredAuditLog<Tx = unknown> {
  /** Records one entry, in `transaction` when given. */
  record(
    entry: AuditEntry,
    options?: { readonly transaction?: Tx },
  ): Promise<{
    /** The audit chain the record was appended to. */
    readonly chain: string;
    /** The record's position in that chain. */
    readonly seq: number;
  }>;
}

/** Options of {@link FieldEncryption.shred}. */
export interface ShredOptions<Tx = unknown> {
  /**
   * Records the shred (action `privacy.subject-key.shredded`, resource
   * `{ type: 'data-subject', id: subject }`) in this audit log — in the same transaction as the
   * key's destruction when `transaction` is given, so one never commits without the other.
   */
  readonly audit?: ShredAuditLog<Tx>;
  /**
   * The backend bound to your transaction (what `backend.transaction()` gives its callback): the
   * key is destroyed (and the audit record written) when it commits, not at all if it rolls back.
   */
  readonly transaction?: Tx;
  /** Who asked for the erasure (recorded in the audit entry; defaults to the flow context's). */
  readonly actor?: AuditActor;
  /** Why, e.g. `GDPR art. 17 request #4411` (recorded in the audit entry). */
  readonly reason?: string;
}

/** What {@link FieldEncryption.shred} returns: proof of the erasure. */
export interface ShredReceipt {
  /** The data subject. */
  readonly subject: string;
  /** The destroyed key's id (every ciphertext naming it is now unreadable). */
  readonly keyId: number;
  /** When the key was destroyed (ISO 8601, the store's clock); the first time, when shredded before. */
  readonly shreddedAt: string;
  /** Whether the key had already been destroyed before this call. */
  readonly alreadyShredded: boolean;
  /** The audit record's id (`<chain>:<seq>`), when an audit log was given. */
  readonly auditRecordId?: string;
}

/** `shred()`. @internal */
export async function shredSubject(
  keyring: Keyring,
  subject: string,
  options: ShredOptions,
): Promise<ShredReceipt> {
  if (typeof subject !== 'string' || subject.length === 0) {
    throw new TypeError(`subject must be a non-empty string, got ${describeValue(subject)}`);
  }
  options = readObject(
    options,
    'options',
    'audit transaction actor reason',
  ) as unknown as typeof options;
  const { audit, transaction, actor, reason } = options;
  if (
    audit !== undefined &&
    typeof (audit as Partial<ShredAuditLog> | null)?.record !== 'function'
  ) {
    throw new TypeError('options.audit must be an audit log (createAuditLog())');
  }
  if (reason !== undefined && typeof reason !== 'string') {
    throw new TypeError(`options.reason must be a string, got ${describeValue(reason)}`);
  }
  const store: DataKeyStore =
    transaction === undefined ? keyring.store : keyring.store.withBackend(transaction);
  const before = await store.byName('subject', subject);
  const tombstone = await store.shred(subject);
  // Forget it now, before the audit write: if that fails after the key is gone, nothing in this
  // process may keep decrypting. In a transaction, the shred may still roll back: the key is then
  // only kept out of the cache, so each use asks the store until the outcome shows there.
  const inTransaction = transaction !== undefined;
  keyring.forget(tombstone.id, inTransaction ? undefined : tombstone, inTransaction);
  let auditRecordId: string | undefined;
  if (audit !== undefined) {
    const entry: AuditEntry = {
      action: SUBJECT_KEY_SHREDDED_ACTION,
      resource: { type: 'data-subject', id: subject },
      subject,
      ...(actor === undefined ? {} : { actor }),
      ...(reason === undefined ? {} : { reason }),
    };
    const record = await audit.record(
      entry,
      transaction === undefined ? undefined : { transaction },
    );
    auditRecordId = `${record.chain}:${record.seq}`;
  }
  const alreadyShredded = before?.shreddedAt != null;
  logEvent(
    keyring.logger,
    'info',
    { event: 'privacy.subject-key.shredded', keyId: tombstone.id, alreadyShredded },
    `subject key ${tombstone.id} shredded`,
  );
  return {
    subject,
    keyId: tombstone.id,
    shreddedAt: new Date(tombstone.shreddedAt ?? Date.now()).toISOString(),
    alreadyShredded,
    ...(auditRecordId === undefined ? {} : { auditRecordId }),
  };
}
