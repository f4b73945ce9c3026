/**
 * The outbox stores flowproof ships, as conformance targets over the backend targets in
 * `backends.ts`. Child processes import this module too (cross-process tests).
 */
import {
  createMemoryOutboxStore,
  type MemoryOutboxStore,
} from '../../src/adapters/memory/index.js';
import {
  createPostgresOutboxStore,
  type PostgresOutboxStore,
} from '../../src/adapters/postgres/index.js';
import {
  createSqliteOutboxStore,
  type SqliteOutboxStore,
} from '../../src/adapters/sqlite/index.js';
import type { OutboxStoreTarget } from '../../src/testing/index.js';
import { memoryTarget, pgliteTarget, postgresTarget, sqliteTarget } from './backends.js';

export const memoryOutboxStoreTarget: OutboxStoreTarget<MemoryOutboxStore> = {
  name: 'memory',
  factory: async (namespace) =>
    createMemoryOutboxStore({ backend: await memoryTarget.factory(namespace) }),
  bind: (store, backend) => store.withBackend(backend as MemoryOutboxStore['backend']),
  capabilities: { transactions: true },
};

export const sqliteOutboxStoreTarget: OutboxStoreTarget<SqliteOutboxStore> = {
  name: 'sqlite',
  factory: async (namespace) =>
    createSqliteOutboxStore({ backend: await sqliteTarget.factory(namespace), ownsBackend: true }),
  bind: (store, backend) => store.withBackend(backend as SqliteOutboxStore['backend']),
  capabilities: { transactions: true },
};

// PGlite is one connection: a claim cannot run while another transaction is open.
export const pgliteOutboxStoreTarget: OutboxStoreTarget<PostgresOutboxStore> = {
  name: 'pglite',
  factory: async (namespace) =>
    createPostgresOutboxStore({ backend: await pgliteTarget.factory(namespace) }),
  bind: (store, backend) => store.withBackend(backend as PostgresOutboxStore['backend']),
  capabilities: { transactions: true },
};

export const postgresOutboxStoreTarget: OutboxStoreTarget<PostgresOutboxStore> = {
  name: 'postgres',
  factory: async (namespace) =>
    createPostgresOutboxStore({ backend: await postgresTarget.factory(namespace) }),
  bind: (store, backend) => store.withBackend(backend as PostgresOutboxStore['backend']),
  capabilities: { transactions: true, concurrentWriters: true },
};
