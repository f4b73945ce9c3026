/**
 * The token-vault stores flowproof ships, as conformance targets over the backend targets in
 * `backends.ts`.
 */

import {
  createMemoryTokenVaultStore,
  type MemoryTokenVaultStore,
} from '../../src/adapters/memory/index.js';
import {
  createPostgresTokenVaultStore,
  type PostgresTokenVaultStore,
} from '../../src/adapters/postgres/index.js';
import {
  createSqliteTokenVaultStore,
  type SqliteTokenVaultStore,
} from '../../src/adapters/sqlite/index.js';
import type { TokenVaultStoreTarget } from '../../src/testing/index.js';
import { memoryTarget, pgliteTarget, postgresTarget, sqliteTarget } from './backends.js';

export const memoryTokenVaultStoreTarget: TokenVaultStoreTarget<MemoryTokenVaultStore> = {
  name: 'memory',
  factory: async (namespace) =>
    createMemoryTokenVaultStore({ backend: await memoryTarget.factory(namespace) }),
  bind: (store, backend) => store.withBackend(backend as MemoryTokenVaultStore['backend']),
  capabilities: { transactions: true },
};

export const sqliteTokenVaultStoreTarget: TokenVaultStoreTarget<SqliteTokenVaultStore> = {
  name: 'sqlite',
  factory: async (namespace) =>
    createSqliteTokenVaultStore({
      backend: await sqliteTarget.factory(namespace),
      ownsBackend: true,
    }),
  bind: (store, backend) => store.withBackend(backend as SqliteTokenVaultStore['backend']),
  capabilities: { transactions: true },
};

export const pgliteTokenVaultStoreTarget: TokenVaultStoreTarget<PostgresTokenVaultStore> = {
  name: 'pglite',
  factory: async (namespace) =>
    createPostgresTokenVaultStore({ backend: await pgliteTarget.factory(namespace) }),
  bind: (store, backend) => store.withBackend(backend as PostgresTokenVaultStore['backend']),
  capabilities: { transactions: true },
};

export const postgresTokenVaultStoreTarget: TokenVaultStoreTarget<PostgresTokenVaultStore> = {
  name: 'postgres',
  factory: async (namespace) =>
    createPostgresTokenVaultStore({ backend: await postgresTarget.factory(namespace) }),
  bind: (store, backend) => store.withBackend(backend as PostgresTokenVaultStore['backend']),
  capabilities: { transactions: true },
};
