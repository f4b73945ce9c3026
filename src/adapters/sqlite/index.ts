/**
 * The SQLite backend: embedded, zero-setup persistence for one machine. Takes a `better-sqlite3`
 * `Database` (or a `node:sqlite` `DatabaseSync`); never imports a driver itself.
 *
 * @module
 */

export {
  createSqliteAuditStore,
  type SqliteAuditStore,
  type SqliteAuditStoreOptions,
  sqliteAuditStoreMigrations,
} from './sqlite-audit-store.js';
export {
  createSqliteBackend,
  type SqliteBackend,
  type SqliteBackendOptions,
} from './sqlite-backend.js';
export type { SqliteDatabaseLike, SqliteStatement } from './sqlite-client.js';
export {
  createSqliteColumnReader,
  type SqliteColumnReaderOptions,
} from './sqlite-column-reader.js';
export {
  createSqliteDataKeyStore,
  type SqliteDataKeyStore,
  type SqliteDataKeyStoreOptions,
  sqliteDataKeyStoreMigrations,
} from './sqlite-data-key-store.js';
export {
  createSqliteEntityStore,
  type SqliteEntityStore,
  type SqliteEntityStoreOptions,
  sqliteEntityStoreMigrations,
} from './sqlite-entity-store.js';
export {
  createSqliteIdempotencyStore,
  type SqliteIdempotencyStore,
  type SqliteIdempotencyStoreOptions,
  sqliteIdempotencyMigrations,
} from './sqlite-idempotency-store.js';
export {
  createSqliteLineageStore,
  type SqliteLineageStore,
  type SqliteLineageStoreOptions,
  sqliteLineageStoreMigrations,
} from './sqlite-lineage-store.js';
export {
  createSqliteOutboxStore,
  type SqliteOutboxStore,
  type SqliteOutboxStoreOptions,
  sqliteOutboxStoreMigrations,
} from './sqlite-outbox-store.js';
export {
  createSqliteRetentionStore,
  type SqliteRetentionStore,
  type SqliteRetentionStoreOptions,
  sqliteRetentionStoreMigrations,
} from './sqlite-retention-store.js';
export {
  createSqliteSagaStore,
  type SqliteSagaStore,
  type SqliteSagaStoreOptions,
  sqliteSagaStoreMigrations,
} from './sqlite-saga-store.js';
export {
  createSqliteTableSweeper,
  type SqliteTableSweeperOptions,
} from './sqlite-table-sweeper.js';
export {
  createSqliteTokenVaultStore,
  type SqliteTokenVaultStore,
  type SqliteTokenVaultStoreOptions,
  sqliteTokenVaultStoreMigrations,
} from './sqlite-token-vault-store.js';
