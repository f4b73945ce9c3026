/**
 * Every failure flowproof reports on purpose is a {@link FlowproofError} with a stable `code`.
 *
 * Codes never change once released; messages may. Tests and applications branch on `code`.
 * The full table lives in docs/errors.md, and a test keeps that table and this union in step.
 */

/**
 * Every error code flowproof can raise. Module-specific codes are added here as modules land, so
 * one union documents the whole library.
 */
export type FlowproofErrorCode =
  // core
  | 'VALIDATION_FAILED'
  | 'INVALID_CONTEXT'
  // storage backends
  | 'BACKEND_UNAVAILABLE'
  | 'BACKEND_TIMEOUT'
  | 'BACKEND_MISCONFIGURED'
  | 'BACKEND_ERROR'
  | 'BACKEND_CLOSED'
  | 'SCHEMA_OUTDATED'
  | 'SCHEMA_TOO_NEW'
  | 'MIGRATION_FAILED'
  | 'TRANSACTION_UNSUPPORTED'
  | 'STORE_DATA_CORRUPT'
  // validation
  | 'PIPELINE_REJECTED'
  | 'PIPELINE_STAGE_FAILED'
  | 'PIPELINE_FIELD_LOST'
  | 'PIPELINE_DEAD_LETTER_FAILED'
  | 'INTEGRATION_RESPONSE_INVALID'
  | 'SCHEMA_COLUMN_MISMATCH'
  // idempotency
  | 'IDEMPOTENCY_KEY_INVALID'
  | 'IDEMPOTENCY_KEY_REUSED'
  | 'IDEMPOTENCY_IN_PROGRESS'
  | 'IDEMPOTENCY_OUTCOME_UNKNOWN'
  | 'IDEMPOTENCY_STALE_OWNER'
  | 'IDEMPOTENCY_UNAVAILABLE'
  | 'IDEMPOTENCY_RESULT_UNENCODABLE'
  | 'IDEMPOTENCY_RESPONSE_INVALID'
  | 'LOCK_NOT_ACQUIRED'
  // state machine
  | 'STATE_TRANSITION_DENIED'
  | 'VERSION_CONFLICT'
  | 'MACHINE_VERSION_MISMATCH'
  | 'ENTITY_NOT_FOUND'
  | 'ENTITY_EXISTS'
  // saga
  | 'SAGA_ID_CONFLICT'
  | 'SAGA_NOT_FOUND'
  | 'SAGA_NOT_DEAD_LETTERED'
  | 'SAGA_DEFINITION_MISMATCH'
  | 'SAGA_STEP_TIMEOUT'
  | 'SAGA_TIMEOUT'
  | 'SAGA_VALUE_UNENCODABLE'
  | 'SAGA_RUNNER_LOST'
  | 'SAGA_WAIT_TIMEOUT'
  | 'SAGAS_CLOSED'
  // outbox
  | 'OUTBOX_MESSAGE_EXISTS'
  | 'OUTBOX_MESSAGE_NOT_FOUND'
  | 'OUTBOX_NOT_DEAD_LETTERED'
  | 'OUTBOX_PAYLOAD_UNENCODABLE'
  | 'OUTBOX_PUBLISH_FAILED'
  | 'OUTBOX_RELAY_CLOSED'
  | 'MESSAGE_MALFORMED'
  | 'MESSAGE_DELIVERY_LIMIT'
  | 'CONSUMER_CLOSED'
  // audit
  | 'AUDIT_CHAIN_BROKEN'
  | 'AUDIT_ARCHIVE_REFUSED'
  | 'AUDIT_PROTECTOR_FAILED'
  | 'AUDIT_WITNESS_FAILED'
  | 'AUDIT_EXPORT_MALFORMED'
  | 'AUDIT_SIGNER_FAILED'
  | 'AUDIT_LOG_CLOSED'
  // lineage
  | 'LINEAGE_RECORD_EXISTS'
  | 'LINEAGE_VALUE_UNENCODABLE'
  | 'LINEAGE_EXPORT_FAILED'
  | 'LINEAGE_CLOSED'
  // privacy
  | 'KEY_SHREDDED'
  | 'KEY_UNKNOWN'
  | 'KEY_RETIRED'
  | 'KEY_PROVIDER_FAILED'
  | 'CIPHERTEXT_INVALID'
  | 'DECRYPTION_FAILED'
  | 'TOKEN_UNKNOWN'
  | 'DETOKENIZE_DENIED'
  | 'PASSWORD_HASH_INVALID'
  | 'PASSWORD_HASH_FAILED'
  // retention
  | 'RETENTION_POLICY_INVALID'
  | 'RETENTION_REQUEST_NOT_FOUND'
  | 'RETENTION_NOT_CANCELLABLE'
  | 'RETENTION_EXTENSION_REFUSED'
  | 'RETENTION_HOLD_NOT_FOUND'
  | 'RETENTION_LOCATION_FAILED'
  | 'RETENTION_DATA_REMAINS'
  | 'RETENTION_WAIT_TIMEOUT'
  | 'RETENTION_CLOSED';

/** The `{ path, code, message }` form validation issues take in error details. */
export interface FlowproofErrorIssue {
  /** Path to the offending value; empty for the root. */
  readonly path: ReadonlyArray<string | number>;
  /** The validator's issue code, or `invalid`. */
  readonly code: string;
  /** Human-readable description. */
  readonly message: string;
}

/** Details every storage-backend failure carries. */
export interface BackendErrorDetails {
  /** The backend's kind: `memory`, `sqlite`, `postgres` or `redis`. */
  readonly backend?: string;
}

/**
 * The `details` of each {@link FlowproofErrorCode}: what {@link isFlowproofError} narrows
 * `error.details` to when given a code. Fields marked optional are present only in some of the
 * situations that raise the code (docs/errors.md says which).
 */
export interface FlowproofErrorDetailsMap {
  /** A value failed its schema. */
  VALIDATION_FAILED: {
    /** Every problem found; empty when the validator threw instead. */
    readonly issues: readonly FlowproofErrorIssue[];
    /** The validator threw while checking the value; `cause` is what it threw. */
    readonly validatorFailed?: true;
    /** The idempotency operation whose stored record was malformed. */
    readonly operation?: string;
    /** The machine whose event payload or context failed its schema. */
    readonly machineId?: string;
  };
  /** An inbound context header is malformed or ambiguous. */
  INVALID_CONTEXT: {
    /** The header, lower-case. */
    readonly header: string;
    /** `ambiguous` when two spellings carried different values. */
    readonly reason?: 'ambiguous';
  };
  /** The store cannot be reached. */
  BACKEND_UNAVAILABLE: BackendErrorDetails & {
    /** Redis: the client's connection status. */
    readonly status?: string;
    /** Redis: the error reply, e.g. `LOADING`. */
    readonly redisCode?: string;
    /** PostgreSQL: the SQLSTATE. */
    readonly sqlstate?: string;
    /** The round-trip limit that was reached while waiting for a connection. */
    readonly timeoutMs?: number;
  };
  /** A round trip did not finish in time. */
  BACKEND_TIMEOUT: BackendErrorDetails & {
    /** The limit that was reached, in milliseconds. */
    readonly timeoutMs?: number;
    /** PostgreSQL: the SQLSTATE (`57014`). */
    readonly sqlstate?: string;
    /** SQLite: `SQLITE_BUSY` or `SQLITE_LOCKED`. */
    readonly sqliteCode?: string;
  };
  /** Authentication, database or permission problem. */
  BACKEND_MISCONFIGURED: BackendErrorDetails & {
    /** PostgreSQL: the SQLSTATE. */
    readonly sqlstate?: string;
    /** SQLite: the driver's code. */
    readonly sqliteCode?: string;
    /** Redis: the error reply, e.g. `NOAUTH`. */
    readonly redisCode?: string;
  };
  /** Any other driver error. */
  BACKEND_ERROR: BackendErrorDetails & {
    /** PostgreSQL: the SQLSTATE. */
    readonly sqlstate?: string;
    /** SQLite: the driver's code. */
    readonly sqliteCode?: string;
    /** Redis: the error reply, e.g. `WRONGTYPE`. */
    readonly redisCode?: string;
    /** `claim-returned-no-row`: an idempotency claim statement answered with no row. */
    readonly reason?: string;
  };
  /** The backend was used after `close()`. */
  BACKEND_CLOSED: BackendErrorDetails;
  /** A stored record cannot be decoded: it was written or changed outside flowproof. */
  STORE_DATA_CORRUPT: {
    /** The backend kind, e.g. `sqlite`. */
    readonly backend: string;
    /** The store's component, e.g. `state-machine` or `idempotency`. */
    readonly component: string;
    /** The record's id (an entity id, an idempotency key). */
    readonly id: string;
    /** The column or part of the record that could not be decoded. */
    readonly field: string;
    /** The entity's machine, for state-machine records. */
    readonly machineId?: string;
    /** The history row's state version, for history records. */
    readonly stateVersion?: number;
  };
  /** The store's schema is older than the code. */
  SCHEMA_OUTDATED: BackendErrorDetails & {
    /** The component whose schema is outdated. */
    readonly component?: string;
    /** The schema version found. */
    readonly found?: number;
    /** The schema version the code needs. */
    readonly expected?: number;
    /** PostgreSQL: the SQLSTATE (`42P01`). */
    readonly sqlstate?: string;
  };
  /** The store's schema is newer than the code. */
  SCHEMA_TOO_NEW: {
    /** The component whose schema is newer. */
    readonly component: string;
    /** The schema version found. */
    readonly found: number;
    /** The newest version this code knows. */
    readonly expected: number;
  };
  /** A migration threw, or the recorded history differs from the code's. */
  MIGRATION_FAILED: BackendErrorDetails & {
    /** The component being migrated. */
    readonly component: string;
    /** The migration's version. */
    readonly version?: number;
    /** The name recorded for that version, when it differs from the code's. */
    readonly recorded?: string;
    /** The code of the migration's error, when it was a `FlowproofError`. */
    readonly causeCode?: FlowproofErrorCode;
  };
  /** The backend cannot run or join this transaction. */
  TRANSACTION_UNSUPPORTED: BackendErrorDetails & {
    /** Why: the call would wait for the transaction it runs inside, or a sibling savepoint runs. */
    readonly reason?: 'reentrant' | 'concurrent-savepoints';
    /** The idempotency store's kind, when the store has no transactions. */
    readonly store?: string;
  };
  /** A `reject` stage found invalid data. */
  PIPELINE_REJECTED: PipelineStageDetails & {
    /** Every problem found. */
    readonly issues: readonly FlowproofErrorIssue[];
  };
  /** User code in a stage threw. */
  PIPELINE_STAGE_FAILED: PipelineStageDetails & {
    /** The code of what it threw, when it was a `FlowproofError`. */
    readonly causeCode?: FlowproofErrorCode;
    /** Which part of the stage threw (`fallback`, `output check`…), when not its main function. */
    readonly during?: string;
  };
  /** A stage's output lacks fields its input had. */
  PIPELINE_FIELD_LOST: PipelineStageDetails & {
    /** The paths of the lost fields. */
    readonly fields: readonly string[];
  };
  /** The dead-letter sink threw. */
  PIPELINE_DEAD_LETTER_FAILED: PipelineStageDetails & {
    /** The stage's own failure. */
    readonly originalCode: FlowproofErrorCode;
  };
  /** A third party's response failed its schema. */
  INTEGRATION_RESPONSE_INVALID: {
    /** The integration, e.g. `stripe`. */
    readonly source: string;
    /** Every problem found. */
    readonly issues: readonly FlowproofErrorIssue[];
    /** The schema threw while checking the payload; `cause` is what it threw. */
    readonly validatorFailed?: true;
  };
  /** A schema accepts values the table's columns refuse. */
  SCHEMA_COLUMN_MISMATCH: {
    /** The table checked. */
    readonly table: string;
    /** Each mismatch: its kind and field, with facts that depend on the kind. */
    readonly mismatches: ReadonlyArray<{
      /** What does not match, e.g. `string-length`. */
      readonly kind: string;
      /** The schema field. */
      readonly field: string;
    }>;
  };
  /** The client's idempotency key is malformed. */
  IDEMPOTENCY_KEY_INVALID: {
    /** The key's length, or `null` when it is not a string. */
    readonly length: number | null;
  };
  /** The key was used with another request fingerprint. */
  IDEMPOTENCY_KEY_REUSED: {
    /** The operation the key belongs to. */
    readonly operation: string;
  };
  /** Another call holds the key's lease. */
  IDEMPOTENCY_IN_PROGRESS: {
    /** Milliseconds after which a retry may find the first call finished (at least 1). */
    readonly retryAfterMs: number;
    /** The operation the key belongs to. */
    readonly operation?: string;
  };
  /** The owner died between starting its side effect and completing. */
  IDEMPOTENCY_OUTCOME_UNKNOWN: {
    /** The operation the key belongs to. */
    readonly operation: string;
    /** The fencing token of the owner that died. */
    readonly token?: number;
  };
  /** This call lost its lease. */
  IDEMPOTENCY_STALE_OWNER: {
    /** The operation the key belongs to (`run`, claims). */
    readonly operation?: string;
    /** The lock's resource (`withLock`). */
    readonly resource?: string;
    /** This call's fencing token, which the store refused. */
    readonly token?: number;
  };
  /** A result cannot be stored for replay (it does not survive the JSON round trip, or the serializer refused it). */
  IDEMPOTENCY_RESULT_UNENCODABLE: {
    /** The operation the key belongs to. */
    readonly operation?: string;
    /** Where in the result the value JSON cannot hold sits, e.g. `$.createdAt`. */
    readonly path?: string;
  };
  /** An HTTP handler produced something that cannot be sent or stored as a response. */
  IDEMPOTENCY_RESPONSE_INVALID: {
    /** What is wrong with it, e.g. `status 0 is not an integer from 100 to 599`. */
    readonly problem: string;
  };
  /** The idempotency store could not be reached. */
  IDEMPOTENCY_UNAVAILABLE: {
    /** The operation the key belongs to (`run`). */
    readonly operation?: string;
    /** The lock's resource (`withLock`). */
    readonly resource?: string;
  };
  /** Another holder has the lock. */
  LOCK_NOT_ACQUIRED: {
    /** Milliseconds until the current holder's lease ends, unless it is renewed. */
    readonly retryAfterMs: number;
    /** The lock's resource. */
    readonly resource?: string;
  };
  /** The event is not allowed in the entity's current state. */
  STATE_TRANSITION_DENIED: {
    /** The machine. */
    readonly machineId: string;
    /** The state the entity is in. */
    readonly state: string;
    /** The refused event. */
    readonly event: string;
    /** The events the state accepts. */
    readonly allowed: readonly string[];
    /** Why: the event is unknown there, the state is terminal, or every guard refused. */
    readonly reason: string;
    /** The entity, when raised through persisted entities. */
    readonly entityId?: string;
  };
  /** Another writer changed the entity since it was read. */
  VERSION_CONFLICT: EntityDetails & {
    /** The version the write expected. */
    readonly expectedVersion: number;
    /** The stored version, when this call read it (larger than `expectedVersion`: the caller was ahead). */
    readonly actualVersion?: number;
  };
  /** A snapshot belongs to another machine or version. */
  MACHINE_VERSION_MISMATCH: {
    /** The machine. */
    readonly machineId: string;
    /** The version (or machine) the code expected. */
    readonly expected: unknown;
    /** The version (or machine) found. */
    readonly found: unknown;
    /** The entity, when raised through persisted entities. */
    readonly entityId?: string;
  };
  /** No entity with this id exists for the machine. */
  ENTITY_NOT_FOUND: EntityDetails & {
    /** `history-missing` when the entity's history lacks its creation record. */
    readonly reason?: string;
  };
  /** An entity with this id already exists for the machine. */
  ENTITY_EXISTS: EntityDetails;
  /** A saga id given to `start` names another saga (another definition or another input). */
  SAGA_ID_CONFLICT: {
    /** The id. */
    readonly sagaId: string;
    /** The name of the saga that holds it. */
    readonly name: string;
  };
  /** No saga has this id. */
  SAGA_NOT_FOUND: {
    /** The id. */
    readonly sagaId: string;
  };
  /** `redrive(id)` of a saga that is not in the dead-letter queue. */
  SAGA_NOT_DEAD_LETTERED: {
    /** The id. */
    readonly sagaId: string;
    /** Its status. */
    readonly status: string;
  };
  /** A recorded step no longer matches the definition (a deploy renamed, moved or changed it). */
  SAGA_DEFINITION_MISMATCH: {
    /** The saga. */
    readonly sagaId: string;
    /** Its definition's name. */
    readonly name: string;
    /** The definition version it was checked against. */
    readonly version: number;
    /** The recorded step. */
    readonly step: string;
    /** Its recorded position. */
    readonly index: number;
    /** What differs. */
    readonly reason: 'removed' | 'moved' | 'renamed' | 'changed';
  };
  /** A step or compensation attempt ran past its `timeoutMs`. */
  SAGA_STEP_TIMEOUT: {
    /** The saga. */
    readonly sagaId: string;
    /** The step. */
    readonly step: string;
    /** The step's run or its compensation. */
    readonly phase: 'run' | 'compensate';
    /** The limit. */
    readonly timeoutMs: number;
  };
  /** The saga ran past its own `timeoutMs`. */
  SAGA_TIMEOUT: {
    /** The saga. */
    readonly sagaId: string;
  };
  /** A saga input or a step output is not JSON data. */
  SAGA_VALUE_UNENCODABLE: {
    /** The saga. */
    readonly sagaId: string;
    /** The step whose output it was; absent for the input. */
    readonly step?: string;
  };
  /** Recorded in a step's history: the runner stopped during the attempt (a crash, a kill). */
  SAGA_RUNNER_LOST: Record<string, never>;
  /** `wait` (or `run`) gave up before the saga finished. */
  SAGA_WAIT_TIMEOUT: {
    /** The saga. */
    readonly sagaId: string;
    /** Its status when the wait ended. */
    readonly status: string;
    /** The limit. */
    readonly timeoutMs: number;
  };
  /** The saga engine was used after `close()`. */
  SAGAS_CLOSED: Record<string, never>;
  /** `enqueue` with an id the outbox already holds. */
  OUTBOX_MESSAGE_EXISTS: {
    /** The message id. */
    readonly messageId: string;
  };
  /** No message has this id (never enqueued, or purged). */
  OUTBOX_MESSAGE_NOT_FOUND: {
    /** The message id. */
    readonly messageId: string;
  };
  /** `redrive(id)` of a message that is not in the dead-letter list. */
  OUTBOX_NOT_DEAD_LETTERED: {
    /** The message id. */
    readonly messageId: string;
    /** Where it is. */
    readonly status: string;
  };
  /** A payload (after its topic's schema) is not JSON data. */
  OUTBOX_PAYLOAD_UNENCODABLE: {
    /** The topic. */
    readonly topic: string;
    /** Where in the payload, e.g. `$.items[0].price`. */
    readonly path: string;
  };
  /** Recorded on a message: the publisher did not acknowledge it, and did not say why. */
  OUTBOX_PUBLISH_FAILED: {
    /** The message id. */
    readonly messageId: string;
  };
  /** The relay was used after `close()`. */
  OUTBOX_RELAY_CLOSED: Record<string, never>;
  /** A delivered message is not a flowproof message (fields missing or not decodable). */
  MESSAGE_MALFORMED: {
    /** The broker's id of the delivery (a stream entry id). */
    readonly deliveryId: string;
    /** What is wrong. */
    readonly reason: string;
  };
  /** Recorded on a dead letter: the message was delivered this many times without success. */
  MESSAGE_DELIVERY_LIMIT: {
    /** The message id. */
    readonly messageId: string;
    /** Deliveries so far. */
    readonly deliveries: number;
  };
  /** A consumer was used after `close()`. */
  CONSUMER_CLOSED: Record<string, never>;
  /** An audit chain failed verification where it had to pass (before an archival, or on request). */
  AUDIT_CHAIN_BROKEN: {
    /** The chain. */
    readonly chain: string;
    /** The first bad record's sequence number. */
    readonly seq: number;
    /** The kind of break, e.g. `content-changed` (see `AuditBreakKind`). */
    readonly kind: string;
  };
  /** `archive()` refused: no checkpoint at the boundary, beyond the head, or behind the last one. */
  AUDIT_ARCHIVE_REFUSED: {
    /** The chain. */
    readonly chain: string;
    /** The boundary asked for. */
    readonly throughSeq: number;
    /** Why. */
    readonly reason: string;
  };
  /** The application's protector threw, or returned non-JSON, on a value of `changes`. */
  AUDIT_PROTECTOR_FAILED: {
    /** The change, e.g. `email`. */
    readonly field: string;
  };
  /** A witness did not take a checkpoint (the checkpoint itself is stored). */
  AUDIT_WITNESS_FAILED: {
    /** The witness's name. */
    readonly witness: string;
    /** The chain. */
    readonly chain: string;
    /** The checkpoint's sequence number. */
    readonly seq: number;
  };
  /** An audit export (NDJSON) is not in the format `exportRange()` writes. */
  AUDIT_EXPORT_MALFORMED: {
    /** The line, from 1. */
    readonly line: number;
    /** What is wrong with it. */
    readonly reason: string;
  };
  /** The checkpoint signer threw, or returned no valid signature; no checkpoint was stored. */
  AUDIT_SIGNER_FAILED: {
    /** The chain. */
    readonly chain: string;
    /** The record the checkpoint was to cover. */
    readonly seq: number;
    /** The signer's key id. */
    readonly keyId: string;
  };
  /** The audit log was used after `close()`. */
  AUDIT_LOG_CLOSED: Record<string, never>;
  /** A lineage record with this id is already stored. */
  LINEAGE_RECORD_EXISTS: {
    /** The record's id. */
    readonly id: string;
  };
  /** A recorded value, or something in its provenance, is not JSON data; nothing was written. */
  LINEAGE_VALUE_UNENCODABLE: {
    /** The entity. */
    readonly entity: string;
    /** The field. */
    readonly field: string;
    /** Where in the field's provenance the value is, e.g. `inputs.subtotal.value`. */
    readonly path: string;
  };
  /** An OpenLineage transport did not deliver an event. */
  LINEAGE_EXPORT_FAILED: {
    /** The transport, e.g. `http` or `file`. */
    readonly transport: string;
    /** The HTTP status, when the endpoint answered. */
    readonly status?: number;
  };
  /** The lineage recorder was used after `close()`. */
  LINEAGE_CLOSED: Record<string, never>;
  /** The data subject's key was destroyed: what it encrypted can never be read again. */
  KEY_SHREDDED: {
    /** The data subject. */
    readonly subject: string;
    /** The destroyed key's id. */
    readonly keyId: number;
    /** When it was destroyed (ISO 8601). */
    readonly shreddedAt: string;
  };
  /** A ciphertext names a data key the key store does not have. */
  KEY_UNKNOWN: {
    /** The key id the ciphertext carries. */
    readonly keyId: number;
  };
  /** A ciphertext's data key was retired and no longer decrypts. */
  KEY_RETIRED: {
    /** The retired key's id. */
    readonly keyId: number;
  };
  /** The key provider failed to wrap or unwrap a data key, or does not have the key-encryption key. */
  KEY_PROVIDER_FAILED: {
    /** What was asked of the provider. */
    readonly operation: 'wrap' | 'unwrap';
    /** The key-encryption key's id. */
    readonly kekId: string;
  };
  /** A value is not a ciphertext flowproof made (too short, wrong encoding, unknown version). */
  CIPHERTEXT_INVALID: {
    /** What is wrong with it. */
    readonly reason: 'encoding' | 'length' | 'version';
  };
  /**
   * A ciphertext did not authenticate: it was changed, or it is decrypted in another place (table,
   * column or row) than the one it was encrypted for.
   */
  DECRYPTION_FAILED: {
    /** The data key's id. */
    readonly keyId: number;
  };
  /** No value is stored under a token. */
  TOKEN_UNKNOWN: {
    /** The token. */
    readonly token: string;
  };
  /** The vault's authorization hook refused a detokenize. */
  DETOKENIZE_DENIED: {
    /** The token. */
    readonly token: string;
    /** The value's type. */
    readonly type: string;
  };
  /** A stored password hash is not one `hashPassword` makes. */
  PASSWORD_HASH_INVALID: {
    /** What is wrong with it. */
    readonly reason: string;
  };
  /** scrypt itself failed while hashing or verifying a password. */
  PASSWORD_HASH_FAILED: {
    /** `hash` or `verify`. */
    readonly operation: string;
  };
  /** A retention policy document (object, JSON or YAML) is not valid. */
  RETENTION_POLICY_INVALID: {
    /** Every problem found, each with the path to the offending entry. */
    readonly issues: readonly FlowproofErrorIssue[];
  };
  /** No erasure request has this id. */
  RETENTION_REQUEST_NOT_FOUND: {
    /** The request id asked for. */
    readonly requestId: string;
    /** The location asked for, when the request exists but has no such location. */
    readonly location?: string;
  };
  /** An erasure request can no longer be cancelled: its grace period is over, or it has ended. */
  RETENTION_NOT_CANCELLABLE: {
    /** The request. */
    readonly requestId: string;
    /** Where it stands. */
    readonly status: string;
  };
  /** An erasure deadline cannot be extended (past the longest extension allowed, or ended). */
  RETENTION_EXTENSION_REFUSED: {
    /** The request. */
    readonly requestId: string;
    /** The latest deadline allowed (ISO 8601), when the limit was the reason. */
    readonly latestDueAt?: string;
    /** Where the request stands. */
    readonly status: string;
  };
  /** No legal hold has this id. */
  RETENTION_HOLD_NOT_FOUND: {
    /** The hold id asked for. */
    readonly holdId: string;
  };
  /** A data-map location's handler threw while erasing a subject's data; `cause` holds its error. */
  RETENTION_LOCATION_FAILED: {
    /** The erasure request. */
    readonly requestId: string;
    /** The location. */
    readonly location: string;
  };
  /** A location's verification found the subject's data still there after its handler ran. */
  RETENTION_DATA_REMAINS: {
    /** The erasure request. */
    readonly requestId: string;
    /** The location. */
    readonly location: string;
    /** How many rows or objects remain, as the verification counted them. */
    readonly remaining: number;
  };
  /** `waitForErasure` gave up before the request ended. */
  RETENTION_WAIT_TIMEOUT: {
    /** The erasure request. */
    readonly requestId: string;
    /** How long it waited (ms). */
    readonly timeoutMs: number;
  };
  /** The retention module was used after `close()`. */
  RETENTION_CLOSED: Record<string, never>;
}

/** Where in a pipeline a `PIPELINE_*` failure happened. */
export interface PipelineStageDetails {
  /** The pipeline's name. */
  readonly pipeline: string;
  /** The stage's name. */
  readonly stage: string;
  /** The stage's trust boundary. */
  readonly boundary: string;
}

/** Which persisted entity a state-machine failure is about. */
export interface EntityDetails {
  /** The machine. */
  readonly machineId: string;
  /** The entity. */
  readonly entityId: string;
}

/**
 * The `details` of a {@link FlowproofError} of code `C`: the code's shape from
 * {@link FlowproofErrorDetailsMap}, or, for the union of all codes, any JSON-safe record. Indexing
 * the map by every code keeps it exhaustive: a code added to {@link FlowproofErrorCode} without
 * its details fails the typecheck here (and errors.test-d.ts fails on details without a code).
 */
export type FlowproofErrorDetails<C extends FlowproofErrorCode = FlowproofErrorCode> =
  FlowproofErrorCode extends C
    ? Readonly<Record<string, unknown>>
    : Readonly<Record<string, unknown>> & FlowproofErrorDetailsMap[C];

/** Options accepted by {@link FlowproofError}. */
export interface FlowproofErrorOptions {
  /** The underlying error, kept for debugging and exposed as `error.cause`. */
  readonly cause?: unknown;
  /**
   * Structured facts about the failure (never secrets or personal data). Copied into a JSON-safe
   * form: a `bigint` becomes its decimal string, a `Date` its ISO string, a non-finite number
   * `null`; `undefined`, functions and symbols are left out; an object met a second time (a
   * cycle) becomes `'[Circular]'`; details that cannot be read become `{ unreadable: true }`.
   */
  readonly details?: Readonly<Record<string, unknown>>;
}

/** The JSON form of a {@link FlowproofError}. */
export interface FlowproofErrorJson {
  /** Always `FlowproofError`. */
  readonly name: string;
  /** The error's code. */
  readonly code: FlowproofErrorCode;
  /** The error's message. */
  readonly message: string;
  /** The error's details. */
  readonly details: Readonly<Record<string, unknown>>;
}

/**
 * Marks each flowproof error class with a name that is the same in every copy of flowproof (the
 * ESM and the CommonJS build, duplicate installs), so `instanceof` holds across copies.
 */
const ERROR_CLASS: unique symbol = Symbol.for('flowproof.error-class@1') as never;

/**
 * The base class of every error flowproof raises deliberately.
 *
 * `instanceof FlowproofError` (and `instanceof` its subclasses) holds for errors raised by any copy
 * of flowproof in the process: code loaded through `require` and code loaded through `import`
 * raise errors that pass either build's check.
 *
 * @example
 * ```ts
 * try {
 *   await store.migrate();
 * } catch (error) {
 *   if (isFlowproofError(error, 'BACKEND_UNAVAILABLE')) retryLater();
 *   else throw error;
 * }
 * ```
 */
export class FlowproofError extends Error {
  /** @internal The class's name in every copy of flowproof; subclasses declare their own. */
  static readonly [ERROR_CLASS]: string = 'FlowproofError';

  /** Stable, documented identifier of the failure; safe to branch on. */
  readonly code: FlowproofErrorCode;
  /**
   * Structured facts about the failure; empty when there are none. Always JSON-safe: values JSON
   * cannot hold are converted when the error is made (see {@link FlowproofErrorOptions.details}).
   */
  readonly details: Readonly<Record<string, unknown>>;

  /**
   * @param code - the stable code, one of {@link FlowproofErrorCode}.
   * @param message - a sentence for humans; never personal data or secrets.
   */
  constructor(code: FlowproofErrorCode, message: string, options: FlowproofErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'FlowproofError';
    this.code = code;
    this.details = jsonSafeDetails(options.details);
  }

  /**
   * True when `value` is an instance of this class, made by this copy of flowproof or another one
   * (the other module format, a duplicate install).
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class `instanceof` asked about.
    return isInstanceAcrossCopies(this, value);
  }

  /** A JSON-safe view for logs and problem responses; the cause is left out. */
  toJSON(): FlowproofErrorJson {
    return { name: this.name, code: this.code, message: this.message, details: this.details };
  }
}

/**
 * `value instanceof errorClass`, where `value` may come from another copy of flowproof: true when
 * a class in its prototype chain has the same {@link ERROR_CLASS} name as `errorClass`.
 */
function isInstanceAcrossCopies(errorClass: object, value: unknown): boolean {
  if (Function.prototype[Symbol.hasInstance].call(errorClass, value)) return true;
  // A subclass of the application's own has no name of its own: only its own instances match.
  const name = Object.hasOwn(errorClass, ERROR_CLASS) ? (errorClass as Named)[ERROR_CLASS] : '';
  try {
    let prototype = Object(value) === value ? Object.getPrototypeOf(value) : null;
    for (; name && prototype; prototype = Object.getPrototypeOf(prototype)) {
      const owner = Object.hasOwn(prototype, 'constructor') && prototype.constructor;
      if (Object.hasOwn(owner, ERROR_CLASS) && owner[ERROR_CLASS] === name) return true;
    }
  } catch {
    // A revoked proxy or a hostile getPrototypeOf trap: not a flowproof error.
  }
  return false;
}
type Named = Record<typeof ERROR_CLASS, string>;

/**
 * Gives `errorClass` the name by which other copies of flowproof recognise it, for `instanceof`
 * across copies. Every exported subclass of {@link FlowproofError} calls it once.
 *
 * @internal
 */
export function registerErrorClass(
  errorClass: abstract new (...args: never[]) => FlowproofError,
  name: string,
): void {
  Object.defineProperty(errorClass, ERROR_CLASS, { value: name });
}

/**
 * Narrows `error` to a {@link FlowproofError}, optionally of one code; with a code, `details` is
 * narrowed to that code's shape ({@link FlowproofErrorDetailsMap}). Works across copies of
 * flowproof (the ESM and CommonJS builds, duplicate installs). Never throws, whatever `error` is.
 *
 * @example
 * ```ts
 * if (isFlowproofError(error, 'IDEMPOTENCY_IN_PROGRESS')) await sleep(error.details.retryAfterMs);
 * ```
 */
export function isFlowproofError<C extends FlowproofErrorCode>(
  error: unknown,
  code?: C,
): error is FlowproofError & {
  /** The code asked for. */
  readonly code: C;
  /** The details of that code. */
  readonly details: FlowproofErrorDetails<C>;
} {
  try {
    if (error instanceof FlowproofError) return code === undefined || error.code === code;
    // A copy of flowproof that predates cross-copy `instanceof`: recognised by its shape.
    if (typeof error !== 'object' || error === null) return false;
    const candidate = error as { name?: unknown; code?: unknown };
    return (
      candidate.name === 'FlowproofError' &&
      typeof candidate.code === 'string' &&
      (code === undefined || candidate.code === code)
    );
  } catch {
    // A revoked proxy, or a getter that throws: whatever it is, it is not a usable error.
    return false;
  }
}

/**
 * Copies `details` into a frozen, JSON-safe object, so `JSON.stringify(error)` never throws and
 * logs the same facts the code saw. Nothing is refused (an error made while reporting another
 * must not hide it); values JSON cannot hold are converted: a `bigint` becomes its decimal string,
 * a `Date` its ISO string (`null` when invalid), a non-finite number `null`; `undefined`,
 * functions and symbols are left out (`null` in arrays); an object met a second time (a cycle, or
 * the same object twice) becomes `'[Circular]'`. Details that cannot be copied at all (a revoked
 * proxy, a getter that throws, nesting deeper than the stack) become `{ unreadable: true }`.
 */
function jsonSafeDetails(details: unknown): Readonly<Record<string, unknown>> {
  const seen = new WeakSet<object>();
  let copy: unknown;
  try {
    copy = JSON.parse(
      JSON.stringify(details ?? {}, (_key, value: unknown) => {
        if (typeof value === 'bigint') return String(value);
        if (typeof value !== 'object' || value === null) return value;
        if (seen.has(value)) return '[Circular]';
        seen.add(value);
        return value;
      }),
    );
  } catch {
    copy = { unreadable: true };
  }
  return Object.freeze(
    typeof copy === 'object' && copy !== null && !Array.isArray(copy) ? copy : { value: copy },
  ) as Readonly<Record<string, unknown>>;
}

/**
 * Describes a value for an error message without dumping it (it may hold personal data). Never
 * throws: an object that cannot be inspected (a revoked proxy) is `an object`.
 */
export function describeValue(value: unknown): string {
  if (typeof value !== 'object') return typeof value;
  if (value === null) return 'null';
  try {
    if (Array.isArray(value)) return 'an array';
    if (value instanceof Date) return 'a Date';
  } catch {
    // Array.isArray and instanceof throw only for a revoked proxy (or a trap that throws).
    return 'an object that cannot be read';
  }
  return 'an object';
}
