/**
 * The saga stores flowproof ships, as conformance targets over the backend targets in
 * `backends.ts`. Child processes import this module too (cross-process tests).
 */
import { createMemorySagaStore, type MemorySagaStore } from '../../src/adapters/memory/index.js';
import {
  createPostgresSagaStore,
  type PostgresSagaStore,
} from '../../src/adapters/postgres/index.js';
import { createSqliteSagaStore, type SqliteSagaStore } from '../../src/adapters/sqlite/index.js';
import type { SagaStoreTarget } from '../../src/testing/index.js';
import { memoryTarget, pgliteTarget, postgresTarget, sqliteTarget } from './backends.js';

export const memorySagaStoreTarget: SagaStoreTarget<MemorySagaStore> = {
  name: 'memory',
  factory: async (namespace) =>
    createMemorySagaStore({ backend: await memoryTarget.factory(namespace) }),
  bind: (store, backend) => store.withBackend(backend as MemorySagaStore['backend']),
  capabilities: { transactions: true },
};

export const sqliteSagaStoreTarget: SagaStoreTarget<SqliteSagaStore> = {
  name: 'sqlite',
  factory: async (namespace) =>
    createSqliteSagaStore({ backend: await sqliteTarget.factory(namespace), ownsBackend: true }),
  bind: (store, backend) => store.withBackend(backend as SqliteSagaStore['backend']),
  capabilities: { transactions: true },
};

export const pgliteSagaStoreTarget: SagaStoreTarget<PostgresSagaStore> = {
  name: 'pglite',
  factory: async (namespace) =>
    createPostgresSagaStore({ backend: await pgliteTarget.factory(namespace) }),
  bind: (store, backend) => store.withBackend(backend as PostgresSagaStore['backend']),
  capabilities: { transactions: true },
};

export const postgresSagaStoreTarget: SagaStoreTarget<PostgresSagaStore> = {
  name: 'postgres',
  factory: async (namespace) =>
    createPostgresSagaStore({ backend: await postgresTarget.factory(namespace) }),
  bind: (store, backend) => store.withBackend(backend as PostgresSagaStore['backend']),
  capabilities: { transactions: true },
};
