/**
 * The audit-store port: what a backend implements to keep append-only, hash-chained audit
 * records, written in the same transaction as the change they describe.
 *
 * Records belong to a **chain** (one global chain, or one per tenant). Each chain numbers its
 * records 1, 2, 3… without gaps and links each to the one before it: a record's `hash` is
 * SHA-256 over the previous record's hash and the record's own `body` (see
 * {@link auditRecordHash}). The store keeps, per chain, a **head** (the last sequence number
 * and hash); appending updates the head and inserts the record in one atomic step, so
 * concurrent appenders — in one process or many — queue on the head and never fork the chain.
 * On SQL stores the head's row stays locked until the appending transaction ends: a record
 * written in a transaction that rolls back leaves no trace and no gap, and the next appender
 * links to the record before it.
 *
 * The body is text the audit log builds (canonical JSON, see {@link auditRecordBody}); the store
 * fills in the sequence number and its clock's time, then keeps the body byte for byte. Its
 * query columns (action, actor, resource, correlation id, time) are derived from the body.
 *
 * Records are never updated. The SQL stores reject `UPDATE` and `DELETE` on the records table
 * with triggers; the only removal is {@link AuditStore.archive}, which deletes a chain's oldest
 * records up to a sequence number that a signed checkpoint covers.
 *
 * Times are epoch milliseconds of the **store's** clock.
 *
 * Adapters: `createMemoryAuditStore`, `createSqliteAuditStore`, `createPostgresAuditStore`.
 * Certify your own with `describeAuditStoreConformance` from `flowproof/testing`.
 */
import type { MigrationReport, StorageBackend } from '../core/storage-backend.js';

/** The migration component name audit stores record their schema under. */
export const AUDIT_STORE_COMPONENT = 'audit';

/** The hash a chain's first record links to: 64 zeros. */
export const AUDIT_GENESIS_HASH = '0'.repeat(64);

/** One record to append, as the audit log hands it to the store. */
export interface AuditAppend {
  /** The chain, e.g. `global` or a tenant's id. */
  readonly chain: string;
  /**
   * The record's members after its position, as canonical JSON member text (`"action":…,…`,
   * without braces); see {@link auditRecordBody}.
   */
  readonly content: string;
  /** The action (also inside `content`), for stores that index without parsing. */
  readonly action: string;
  /** The actor's id, or `null` (also inside `content`). */
  readonly actorId: string | null;
  /** The resource's type (also inside `content`). */
  readonly resourceType: string;
  /** The resource's id (also inside `content`). */
  readonly resourceId: string;
  /** The correlation id, or `null` (also inside `content`). */
  readonly correlationId: string | null;
}

/** A stored record: its place in its chain, its body and its links. */
export interface AuditRow {
  /** The chain. */
  readonly chain: string;
  /** Its sequence number in the chain, from 1. */
  readonly seq: number;
  /** When it was appended (store clock, epoch milliseconds); also inside `body`. */
  readonly recordedAt: number;
  /** The canonical JSON text the hash covers. */
  readonly body: string;
  /** The hash of the record before it (the genesis hash for the first). */
  readonly prevHash: string;
  /** SHA-256 (hex) of `prevHash`, a line feed and `body`. */
  readonly hash: string;
}

/** A chain's head, as {@link AuditStore.heads} reports it. */
export interface AuditChainHead {
  /** The chain. */
  readonly chain: string;
  /** The last sequence number appended (0 when none). */
  readonly seq: number;
  /** The last record's hash (the genesis hash when none). */
  readonly hash: string;
  /**
   * Records up to this sequence number were archived (deleted after export); 0 when none. The
   * oldest record kept links to the checkpoint at this sequence number.
   */
  readonly archivedThrough: number;
}

/** What {@link AuditStore.readChain} reads. */
export interface AuditChainRead {
  /** The chain. */
  readonly chain: string;
  /** Records with a sequence number above this one. */
  readonly afterSeq: number;
  /** And at most this one, when given. */
  readonly throughSeq?: number;
  /** At most this many, in sequence order. */
  readonly limit: number;
}

/** A position in the order {@link AuditStore.query} returns records in. */
export interface AuditQueryPosition {
  /** The record's time. */
  readonly recordedAt: number;
  /** Its chain. */
  readonly chain: string;
  /** Its sequence number. */
  readonly seq: number;
}

/** What {@link AuditStore.query} selects; every given criterion must match. */
export interface AuditStoreQuery {
  /** Only this chain. */
  readonly chain?: string;
  /** Only this action. */
  readonly action?: string;
  /** Only records of this actor. */
  readonly actorId?: string;
  /** Only records about resources of this type. */
  readonly resourceType?: string;
  /** Only records about the resource with this id (with `resourceType`). */
  readonly resourceId?: string;
  /** Only records of this correlation id. */
  readonly correlationId?: string;
  /** Only records appended at or after this time. */
  readonly from?: number;
  /** Only records appended before this time. */
  readonly to?: number;
  /** Only records after this position (the previous page's last record). */
  readonly after?: AuditQueryPosition;
  /** At most this many, ordered by time, chain and sequence number. */
  readonly limit: number;
}

/** The algorithms checkpoints are signed with. */
export type AuditSignatureAlgorithm = 'ed25519' | 'hmac-sha256';

/**
 * A signed statement that a chain's record `seq` has hash `hash`: whoever holds the checkpoint
 * can tell whether the chain up to there was rewritten or cut short.
 */
export interface AuditCheckpoint {
  /** The chain. */
  readonly chain: string;
  /** The sequence number it covers (records 1..seq). */
  readonly seq: number;
  /** The hash of record `seq`. */
  readonly hash: string;
  /** When it was signed (store clock, epoch milliseconds). */
  readonly signedAt: number;
  /** The signing key's id, so verifiers pick the right key after a rotation. */
  readonly keyId: string;
  /** How it was signed. */
  readonly algorithm: AuditSignatureAlgorithm;
  /** The signature (base64url) over {@link auditCheckpointMessage} of the fields above. */
  readonly signature: string;
}

/** What {@link AuditStore.checkpoints} reads. */
export interface AuditCheckpointRead {
  /** The chain. */
  readonly chain: string;
  /** Checkpoints with a sequence number above this one. */
  readonly afterSeq: number;
  /** At most this many, in sequence order. */
  readonly limit: number;
}

/** What {@link AuditStore.archive} removes. */
export interface AuditArchiveRequest {
  /** The chain. */
  readonly chain: string;
  /**
   * Archive records up to this sequence number. A stored checkpoint must cover exactly this
   * sequence number, and it must not be above the head.
   */
  readonly throughSeq: number;
  /** Delete at most this many records in this call (call again until it returns 0). */
  readonly limit: number;
}

/**
 * The port. Each operation is atomic on its own.
 *
 * @typeParam Tx - what {@link AuditStore.withBackend} takes: the store's backend bound to a
 * transaction.
 */
export interface AuditStore<Tx = unknown> {
  /** The backend kind, e.g. `postgres`. */
  readonly kind: string;
  /** The backend the store works on. */
  readonly backend: StorageBackend;
  /** Creates or upgrades the store's tables (component `audit`). Safe to call concurrently. */
  migrate(): Promise<MigrationReport>;
  /** The store's clock. */
  now(): Promise<Date>;
  /**
   * The same store over `backend`, a backend bound to a transaction: records it appends commit or
   * roll back with that transaction, and the chains' heads stay locked until it ends.
   *
   * @throws TypeError when `backend` is not a backend of the store's kind.
   */
  withBackend(backend: Tx): AuditStore<Tx>;
  /**
   * Appends `entries` in order, all or none: each gets the next sequence number of its chain,
   * the store's time, and its hash linked to the record before it. Returns the stored rows, in
   * the order given.
   */
  append(entries: readonly AuditAppend[]): Promise<readonly AuditRow[]>;
  /** Records of one chain in sequence order (a page of them). */
  readChain(read: AuditChainRead): Promise<readonly AuditRow[]>;
  /** The head of `chain`, or of every chain (ordered by name) when omitted. */
  heads(chain?: string): Promise<readonly AuditChainHead[]>;
  /** Records matching `query`, ordered by time, chain and sequence number. */
  query(query: AuditStoreQuery): Promise<readonly AuditRow[]>;
  /**
   * Stores a checkpoint. Storing the same checkpoint again is a no-op; the store does not check
   * signatures (verification does).
   */
  addCheckpoint(checkpoint: AuditCheckpoint): Promise<void>;
  /** Stored checkpoints of one chain, in sequence order (a page of them). */
  checkpoints(read: AuditCheckpointRead): Promise<readonly AuditCheckpoint[]>;
  /**
   * Records that the chain verified up to the checkpoint at `seq` with `hash`, so the next
   * verification can start there.
   */
  markVerified(chain: string, seq: number, hash: string): Promise<void>;
  /** Where {@link markVerified} last put the chain, or `undefined`. */
  lastVerified(chain: string): Promise<
    | {
        /** The sequence number verified up to. */
        readonly seq: number;
        /** The hash of that record. */
        readonly hash: string;
      }
    | undefined
  >;
  /**
   * Deletes up to `limit` of the chain's records with sequence numbers up to `throughSeq`, oldest
   * first, after recording `throughSeq` as the chain's archive boundary; returns how many it
   * deleted. The audit log exports the records before it calls this.
   *
   * @throws FlowproofError `AUDIT_ARCHIVE_REFUSED` when no stored checkpoint covers exactly
   * `throughSeq`, when `throughSeq` is above the head, or below the current boundary.
   */
  archive(request: AuditArchiveRequest): Promise<number>;
  /** Releases what the store opened (the backend only when it owns it). Idempotent. */
  close(): Promise<void>;
}
