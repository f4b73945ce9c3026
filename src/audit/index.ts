/**
 * Audit trails: append-only, tamper-evident records of who did what, when, where, why and with
 * what result — written in the same transaction as the change they describe, hash-chained per
 * record, signed at checkpoints, and erasable by crypto-shredding without breaking verification.
 *
 * @module
 */

export {
  type AuditCheckpointStatement,
  auditBodyPrefix,
  auditCheckpointMessage,
  auditRecordBody,
  auditRecordHash,
} from './audit-encoding.js';
export {
  type AuditActor,
  type AuditChange,
  type AuditChanges,
  type AuditEntry,
  type AuditResource,
  type AuditResult,
  type AuditWhere,
  type DiffChangesOptions,
  diffChanges,
} from './audit-entry.js';
export {
  type AuditExportHeader,
  type VerifyAuditExportOptions,
  verifyAuditExport,
} from './audit-export.js';
export {
  type AuditArchiveOptions,
  type AuditArchiveReport,
  type AuditChainChoice,
  type AuditExportOptions,
  type AuditLog,
  type AuditLogOptions,
  type AuditPage,
  type AuditQuery,
  type AuditRecord,
  type AuditVerification,
  type AuditVerifyOptions,
  createAuditLog,
  type RecordOptions,
  type RevealedAuditRecord,
  type RevealedChange,
  type TxOf,
} from './audit-log.js';
export {
  AUDIT_REDACTED,
  AUDIT_UNREADABLE,
  type AuditProtectedField,
  type AuditProtector,
  createRedactingProtector,
} from './audit-protector.js';
export {
  AUDIT_GENESIS_HASH,
  AUDIT_STORE_COMPONENT,
  type AuditAppend,
  type AuditArchiveRequest,
  type AuditChainHead,
  type AuditChainRead,
  type AuditCheckpoint,
  type AuditCheckpointRead,
  type AuditQueryPosition,
  type AuditRow,
  type AuditSignatureAlgorithm,
  type AuditStore,
  type AuditStoreQuery,
} from './audit-store.js';
export type {
  AuditBreak,
  AuditBreakKind,
  AuditChainReport,
} from './chain-verifier.js';
export {
  type CheckpointSigner,
  type CheckpointVerifier,
  createEd25519Signer,
  createEd25519Verifier,
  createHmacSigner,
} from './checkpoint-keys.js';
export {
  type AuditWitness,
  createFileWitness,
  createHttpWitness,
  readFileWitness,
} from './witnesses.js';
