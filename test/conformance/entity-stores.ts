/**
 * The state-machine entity stores flowproof ships, as conformance targets over the backend targets
 * in `backends.ts`. Child processes import this module too (cross-process tests).
 */
import {
  createMemoryEntityStore,
  type MemoryEntityStore,
} from '../../src/adapters/memory/index.js';
import {
  createPostgresEntityStore,
  type PostgresEntityStore,
} from '../../src/adapters/postgres/index.js';
import {
  createSqliteEntityStore,
  type SqliteEntityStore,
} from '../../src/adapters/sqlite/index.js';
import type { EntityStoreTarget } from '../../src/testing/index.js';
import { memoryTarget, pgliteTarget, postgresTarget, sqliteTarget } from './backends.js';

export const memoryEntityStoreTarget: EntityStoreTarget<MemoryEntityStore> = {
  name: 'memory',
  factory: async (namespace) =>
    createMemoryEntityStore({ backend: await memoryTarget.factory(namespace) }),
  transaction: (store, fn) => store.backend.transaction((tx) => fn(store.withBackend(tx))),
  capabilities: { persistent: false },
};

export const sqliteEntityStoreTarget: EntityStoreTarget<SqliteEntityStore> = {
  name: 'sqlite',
  factory: async (namespace) =>
    createSqliteEntityStore({ backend: await sqliteTarget.factory(namespace), ownsBackend: true }),
  transaction: (store, fn) => store.backend.transaction((tx) => fn(store.withBackend(tx))),
};

export const pgliteEntityStoreTarget: EntityStoreTarget<PostgresEntityStore> = {
  name: 'pglite',
  factory: async (namespace) =>
    createPostgresEntityStore({ backend: await pgliteTarget.factory(namespace) }),
  transaction: (store, fn) => store.backend.transaction((tx) => fn(store.withBackend(tx))),
};

export const postgresEntityStoreTarget: EntityStoreTarget<PostgresEntityStore> = {
  name: 'postgres',
  factory: async (namespace) =>
    createPostgresEntityStore({ backend: await postgresTarget.factory(namespace) }),
  transaction: (store, fn) => store.backend.transaction((tx) => fn(store.withBackend(tx))),
};
