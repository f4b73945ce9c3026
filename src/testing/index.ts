/**
 * Conformance suites and test helpers, shipped so you can certify your own storage adapters with
 * the same tests flowproof's adapters pass. Framework-agnostic: pass your framework's `describe`
 * and `it`; assertions use `node:assert`.
 *
 * @module
 */
export {
  type AuditRecordChange,
  type AuditStoreCapabilities,
  type AuditStoreConformanceOptions,
  type AuditStoreTarget,
  type AuditTamper,
  auditStoreConformanceWorker,
  describeAuditStoreConformance,
} from './audit-store-conformance.js';
export {
  assertRejectsWithCode,
  type BackendCapabilities,
  type BackendConformanceOptions,
  type BackendProbe,
  type BackendTarget,
  backendConformanceWorker,
  type CrossProcessTarget,
  describeBackendConformance,
  probeMigrations,
  uniqueNamespace,
} from './backend-conformance.js';
export {
  createPostgresProbe,
  createSqliteProbe,
  memoryProbe,
  type PostgresProbeClient,
  redisProbe,
} from './backend-probes.js';
export {
  type DataKeyStoreCapabilities,
  type DataKeyStoreConformanceOptions,
  type DataKeyStoreTarget,
  dataKeyStoreConformanceWorker,
  describeDataKeyStoreConformance,
} from './data-key-store-conformance.js';
export {
  describeEntityStoreConformance,
  type EntityStoreCapabilities,
  type EntityStoreConformanceOptions,
  type EntityStoreTarget,
  entityStoreConformanceWorker,
} from './entity-store-conformance.js';
export {
  describeIdempotencyStoreConformance,
  type IdempotencyStoreCapabilities,
  type IdempotencyStoreConformanceOptions,
  type IdempotencyStoreHooks,
  type IdempotencyStoreTarget,
  idempotencyConformanceWorker,
} from './idempotency-store-conformance.js';
export {
  describeLineageStoreConformance,
  type LineageStoreCapabilities,
  type LineageStoreConformanceOptions,
  type LineageStoreTarget,
  lineageStoreConformanceWorker,
} from './lineage-store-conformance.js';
export {
  type ProcessError,
  type ProcessExited,
  type ProcessFulfilled,
  type ProcessHandle,
  type ProcessOptions,
  type ProcessRejected,
  type ProcessResult,
  runInProcesses,
  startProcesses,
  type WorkerFunction,
  type WorkerInfo,
} from './multi-process.js';
export {
  describeOutboxStoreConformance,
  type OutboxStoreCapabilities,
  type OutboxStoreConformanceOptions,
  type OutboxStoreTarget,
  outboxStoreConformanceWorker,
} from './outbox-store-conformance.js';
export {
  describeRetentionStoreConformance,
  type RetentionStoreCapabilities,
  type RetentionStoreConformanceOptions,
  type RetentionStoreTarget,
  retentionStoreConformanceWorker,
} from './retention-store-conformance.js';
export {
  describeSagaStoreConformance,
  type SagaStoreCapabilities,
  type SagaStoreConformanceOptions,
  type SagaStoreTarget,
  sagaStoreConformanceWorker,
} from './saga-store-conformance.js';
export type { ConformanceTestApi } from './test-api.js';
export {
  describeTokenVaultStoreConformance,
  type TokenVaultStoreCapabilities,
  type TokenVaultStoreConformanceOptions,
  type TokenVaultStoreTarget,
  tokenVaultStoreConformanceWorker,
} from './token-vault-store-conformance.js';
