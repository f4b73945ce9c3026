/**
 * The lineage stores flowproof ships, as conformance targets over the backend targets in
 * `backends.ts`.
 */

import {
  createMemoryLineageStore,
  type MemoryLineageStore,
} from '../../src/adapters/memory/index.js';
import {
  createPostgresLineageStore,
  type PostgresLineageStore,
} from '../../src/adapters/postgres/index.js';
import {
  createSqliteLineageStore,
  type SqliteLineageStore,
} from '../../src/adapters/sqlite/index.js';
import type { LineageStoreTarget } from '../../src/testing/index.js';
import { memoryTarget, pgliteTarget, postgresTarget, sqliteTarget } from './backends.js';

export const memoryLineageStoreTarget: LineageStoreTarget<MemoryLineageStore> = {
  name: 'memory',
  factory: async (namespace) =>
    createMemoryLineageStore({ backend: await memoryTarget.factory(namespace) }),
  bind: (store, backend) => store.withBackend(backend as MemoryLineageStore['backend']),
  capabilities: { transactions: true },
};

export const sqliteLineageStoreTarget: LineageStoreTarget<SqliteLineageStore> = {
  name: 'sqlite',
  factory: async (namespace) =>
    createSqliteLineageStore({ backend: await sqliteTarget.factory(namespace), ownsBackend: true }),
  bind: (store, backend) => store.withBackend(backend as SqliteLineageStore['backend']),
  capabilities: { transactions: true },
};

export const pgliteLineageStoreTarget: LineageStoreTarget<PostgresLineageStore> = {
  name: 'pglite',
  factory: async (namespace) =>
    createPostgresLineageStore({ backend: await pgliteTarget.factory(namespace) }),
  bind: (store, backend) => store.withBackend(backend as PostgresLineageStore['backend']),
  capabilities: { transactions: true },
};

export const postgresLineageStoreTarget: LineageStoreTarget<PostgresLineageStore> = {
  name: 'postgres',
  factory: async (namespace) =>
    createPostgresLineageStore({ backend: await postgresTarget.factory(namespace) }),
  bind: (store, backend) => store.withBackend(backend as PostgresLineageStore['backend']),
  capabilities: { transactions: true },
};
