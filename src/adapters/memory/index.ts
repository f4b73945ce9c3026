/**
 * The in-memory backend: for tests, examples and single-process tools. Module stores over it
 * (`createMemoryIdempotencyStore`…) are added here as the modules land.
 *
 * @module
 */
export {
  createMemoryAuditStore,
  type MemoryAuditStore,
  type MemoryAuditStoreOptions,
  memoryAuditStoreMigrations,
} from './memory-audit-store.js';
export {
  createMemoryBackend,
  type MemoryBackend,
  type MemoryBackendOptions,
} from './memory-backend.js';
export {
  createMemoryDataKeyStore,
  type MemoryDataKeyStore,
  type MemoryDataKeyStoreOptions,
  memoryDataKeyStoreMigrations,
} from './memory-data-key-store.js';
export {
  createMemoryEntityStore,
  type MemoryEntityStore,
  type MemoryEntityStoreOptions,
  memoryEntityStoreMigrations,
} from './memory-entity-store.js';
export {
  createMemoryIdempotencyStore,
  type MemoryIdempotencyStore,
  type MemoryIdempotencyStoreOptions,
  memoryIdempotencyMigrations,
} from './memory-idempotency-store.js';
export {
  createMemoryLineageStore,
  type MemoryLineageStore,
  type MemoryLineageStoreOptions,
  memoryLineageStoreMigrations,
} from './memory-lineage-store.js';
export {
  createMemoryOutboxStore,
  type MemoryOutboxStore,
  type MemoryOutboxStoreOptions,
  memoryOutboxStoreMigrations,
} from './memory-outbox-store.js';
export {
  createMemoryRetentionStore,
  type MemoryRetentionStore,
  type MemoryRetentionStoreOptions,
  memoryRetentionStoreMigrations,
} from './memory-retention-store.js';
export {
  createMemorySagaStore,
  type MemorySagaStore,
  type MemorySagaStoreOptions,
  memorySagaStoreMigrations,
} from './memory-saga-store.js';
export {
  createMemoryTokenVaultStore,
  type MemoryTokenVaultStore,
  type MemoryTokenVaultStoreOptions,
  memoryTokenVaultStoreMigrations,
} from './memory-token-vault-store.js';
