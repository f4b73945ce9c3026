/**
 * The data-key stores flowproof ships, as conformance targets over the backend targets in
 * `backends.ts`.
 */

import {
  createMemoryDataKeyStore,
  type MemoryDataKeyStore,
} from '../../src/adapters/memory/index.js';
import {
  createPostgresDataKeyStore,
  type PostgresDataKeyStore,
} from '../../src/adapters/postgres/index.js';
import {
  createSqliteDataKeyStore,
  type SqliteDataKeyStore,
} from '../../src/adapters/sqlite/index.js';
import type { DataKeyStoreTarget } from '../../src/testing/index.js';
import { memoryTarget, pgliteTarget, postgresTarget, sqliteTarget } from './backends.js';

export const memoryDataKeyStoreTarget: DataKeyStoreTarget<MemoryDataKeyStore> = {
  name: 'memory',
  factory: async (namespace) =>
    createMemoryDataKeyStore({ backend: await memoryTarget.factory(namespace) }),
  bind: (store, backend) => store.withBackend(backend as MemoryDataKeyStore['backend']),
  capabilities: { transactions: true },
};

export const sqliteDataKeyStoreTarget: DataKeyStoreTarget<SqliteDataKeyStore> = {
  name: 'sqlite',
  factory: async (namespace) =>
    createSqliteDataKeyStore({ backend: await sqliteTarget.factory(namespace), ownsBackend: true }),
  bind: (store, backend) => store.withBackend(backend as SqliteDataKeyStore['backend']),
  capabilities: { transactions: true },
};

export const pgliteDataKeyStoreTarget: DataKeyStoreTarget<PostgresDataKeyStore> = {
  name: 'pglite',
  factory: async (namespace) =>
    createPostgresDataKeyStore({ backend: await pgliteTarget.factory(namespace) }),
  bind: (store, backend) => store.withBackend(backend as PostgresDataKeyStore['backend']),
  capabilities: { transactions: true },
};

export const postgresDataKeyStoreTarget: DataKeyStoreTarget<PostgresDataKeyStore> = {
  name: 'postgres',
  factory: async (namespace) =>
    createPostgresDataKeyStore({ backend: await postgresTarget.factory(namespace) }),
  bind: (store, backend) => store.withBackend(backend as PostgresDataKeyStore['backend']),
  capabilities: { transactions: true },
};
