/**
 * The PostgreSQL backend: the engine for applications that outgrow one process or machine. Takes a
 * `pg.Pool`, a `pg.Client` or a PGlite instance; never imports a driver itself.
 *
 * @module
 */

export {
  createPostgresAuditPartitions,
  createPostgresAuditStore,
  type PostgresAuditPartitionOptions,
  type PostgresAuditStore,
  type PostgresAuditStoreOptions,
  postgresAuditStoreMigrations,
  postgresPartitionedAuditStoreMigrations,
} from './postgres-audit-store.js';
export {
  createPostgresBackend,
  type PostgresBackend,
  type PostgresBackendOptions,
} from './postgres-backend.js';
export type {
  PGliteLike,
  PostgresClient,
  PostgresPoolConnection,
  PostgresPoolLike,
  PostgresQueryable,
  PostgresQueryResult,
} from './postgres-client.js';
export {
  createPostgresColumnReader,
  type PostgresColumnReaderOptions,
} from './postgres-column-reader.js';
export {
  createPostgresDataKeyStore,
  type PostgresDataKeyStore,
  type PostgresDataKeyStoreOptions,
  postgresDataKeyStoreMigrations,
} from './postgres-data-key-store.js';
export {
  createPostgresEntityStore,
  type PostgresEntityStore,
  type PostgresEntityStoreOptions,
  postgresEntityStoreMigrations,
} from './postgres-entity-store.js';
export {
  createPostgresIdempotencyStore,
  type PostgresIdempotencyStore,
  type PostgresIdempotencyStoreOptions,
  postgresIdempotencyMigrations,
} from './postgres-idempotency-store.js';
export {
  createPostgresLineageStore,
  type PostgresLineageStore,
  type PostgresLineageStoreOptions,
  postgresLineageStoreMigrations,
} from './postgres-lineage-store.js';
export {
  createPostgresOutboxNotifier,
  type PostgresListenConnection,
  type PostgresOutboxNotifier,
  type PostgresOutboxNotifierOptions,
} from './postgres-outbox-notifier.js';
export {
  createPostgresOutboxStore,
  type PostgresOutboxStore,
  type PostgresOutboxStoreOptions,
  postgresOutboxStoreMigrations,
} from './postgres-outbox-store.js';
export {
  createPostgresRetentionStore,
  type PostgresRetentionStore,
  type PostgresRetentionStoreOptions,
  postgresRetentionStoreMigrations,
} from './postgres-retention-store.js';
export {
  createPostgresSagaStore,
  type PostgresSagaStore,
  type PostgresSagaStoreOptions,
  postgresSagaStoreMigrations,
} from './postgres-saga-store.js';
export {
  createPostgresTableSweeper,
  type PostgresTableSweeperOptions,
} from './postgres-table-sweeper.js';
export {
  createPostgresTokenVaultStore,
  type PostgresTokenVaultStore,
  type PostgresTokenVaultStoreOptions,
  postgresTokenVaultStoreMigrations,
} from './postgres-token-vault-store.js';
