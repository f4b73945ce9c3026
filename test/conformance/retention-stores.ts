/**
 * The retention stores flowproof ships, as conformance targets over the backend targets in
 * `backends.ts`.
 */

import {
  createMemoryRetentionStore,
  type MemoryRetentionStore,
} from '../../src/adapters/memory/index.js';
import {
  createPostgresRetentionStore,
  type PostgresRetentionStore,
} from '../../src/adapters/postgres/index.js';
import {
  createSqliteRetentionStore,
  type SqliteRetentionStore,
} from '../../src/adapters/sqlite/index.js';
import type { RetentionStoreTarget } from '../../src/testing/index.js';
import { memoryTarget, pgliteTarget, postgresTarget, sqliteTarget } from './backends.js';

export const memoryRetentionStoreTarget: RetentionStoreTarget<MemoryRetentionStore> = {
  name: 'memory',
  factory: async (namespace) =>
    createMemoryRetentionStore({ backend: await memoryTarget.factory(namespace) }),
  bind: (store, backend) => store.withBackend(backend as MemoryRetentionStore['backend']),
  capabilities: { transactions: true },
};

export const sqliteRetentionStoreTarget: RetentionStoreTarget<SqliteRetentionStore> = {
  name: 'sqlite',
  factory: async (namespace) =>
    createSqliteRetentionStore({
      backend: await sqliteTarget.factory(namespace),
      ownsBackend: true,
    }),
  bind: (store, backend) => store.withBackend(backend as SqliteRetentionStore['backend']),
  capabilities: { transactions: true },
};

export const pgliteRetentionStoreTarget: RetentionStoreTarget<PostgresRetentionStore> = {
  name: 'pglite',
  factory: async (namespace) =>
    createPostgresRetentionStore({ backend: await pgliteTarget.factory(namespace) }),
  bind: (store, backend) => store.withBackend(backend as PostgresRetentionStore['backend']),
  capabilities: { transactions: true },
};

export const postgresRetentionStoreTarget: RetentionStoreTarget<PostgresRetentionStore> = {
  name: 'postgres',
  factory: async (namespace) =>
    createPostgresRetentionStore({ backend: await postgresTarget.factory(namespace) }),
  bind: (store, backend) => store.withBackend(backend as PostgresRetentionStore['backend']),
  capabilities: { transactions: true },
};
