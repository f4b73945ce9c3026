/**
 * What the retention module writes to the audit log, and the part of an audit log it needs: every
 * request, cancellation, extension, hold, release and receipt is one audit record, written in the
 * same transaction as the retention store's change, so neither commits without the other.
 */
import type { AuditActor, AuditEntry } from '../audit/audit-entry.js';

/** The audit actions the retention module records. */
export const RETENTION_AUDIT_ACTIONS = Object.freeze({
  /** An erasure request was accepted. */
  requested: 'retention.erasure.requested',
  /** An erasure request was cancelled during its grace period. */
  cancelled: 'retention.erasure.cancelled',
  /** An erasure request's grace period ended and its locations began to be erased. */
  started: 'retention.erasure.started',
  /** A location's receipt: what was erased, anonymized, retained or could not be erased. */
  locationSettled: 'retention.erasure.location-settled',
  /** Every location of an erasure request has ended. */
  finished: 'retention.erasure.finished',
  /** An erasure deadline was extended. */
  deadlineExtended: 'retention.erasure.deadline-extended',
  /** Erasures were applied again, after a backup restore. */
  reapplied: 'retention.erasure.reapplied',
  /** A legal hold was placed. */
  holdPlaced: 'retention.hold.placed',
  /** A legal hold was released. */
  holdReleased: 'retention.hold.released',
} as const);

/**
 * The part of an audit log retention uses: `createAuditLog(...)` fits. Its store must be on the
 * retention store's backend, so a record commits with the change it describes.
 */
export interface RetentionAuditLog<Tx = unknown> {
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

/** The actor recorded for what the retention module does on its own (the erasure worker). */
export const RETENTION_SYSTEM_ACTOR: AuditActor = Object.freeze({
  id: 'flowproof-retention',
  type: 'system',
});
