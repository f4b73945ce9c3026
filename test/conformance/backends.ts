/**
 * The backends flowproof ships, as conformance targets. Each factory opens a backend on a
 * namespace: a PostgreSQL schema, a Redis key prefix, a SQLite file or an in-process instance.
 * Child processes import this module too (cross-process tests), so connection details come from
 * the environment that the vitest global setup fills in.
 */
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import pg from 'pg';
import { createMemoryBackend, type MemoryBackend } from '../../src/adapters/memory/index.js';
import { createPostgresBackend, type PostgresBackend } from '../../src/adapters/postgres/index.js';
import { createRedisBackend, type RedisBackend } from '../../src/adapters/redis/index.js';
import { createSqliteBackend, type SqliteBackend } from '../../src/adapters/sqlite/index.js';
import {
  type BackendTarget,
  type CrossProcessTarget,
  createPostgresProbe,
  createSqliteProbe,
  memoryProbe,
  redisProbe,
} from '../../src/testing/index.js';

const closers: (() => Promise<unknown>)[] = [];

/**
 * Where child processes find the target `exportName` of the TypeScript module at `moduleUrl`
 * (pass `new URL('./targets.ts', import.meta.url)`).
 */
export function crossProcessTarget(moduleUrl: URL, exportName: string): CrossProcessTarget {
  return { module: fileURLToPath(moduleUrl), exportName, execArgv: ['--import', 'tsx'] };
}

/** Closes every client the targets opened in this process. */
export async function closeSharedClients(): Promise<void> {
  await Promise.allSettled(closers.splice(0).map((close) => close()));
}

function perNamespace<T>(open: (namespace: string) => T): (namespace: string) => T {
  const opened = new Map<string, T>();
  return (namespace) => {
    let value = opened.get(namespace);
    if (value === undefined) {
      value = open(namespace);
      opened.set(namespace, value);
    }
    return value;
  };
}

const memoryInstance = perNamespace(() => createMemoryBackend());
// The same namespace must reach the same store: hand out views that share one instance's state.
export const memoryTarget: BackendTarget<MemoryBackend> = {
  name: 'memory',
  factory: (namespace) => memoryInstance(namespace),
  probe: memoryProbe,
  capabilities: { storeClock: 'host' },
};

const sqliteDatabases = new WeakMap<SqliteBackend, Database.Database>();
const sqliteDir = join(tmpdir(), 'flowproof-conformance');
export const sqliteTarget: BackendTarget<SqliteBackend> = {
  name: 'sqlite',
  factory: (namespace) => {
    mkdirSync(sqliteDir, { recursive: true });
    const database = new Database(join(sqliteDir, `${namespace}.db`));
    database.pragma('journal_mode = WAL');
    const backend = createSqliteBackend({ database, ownsDatabase: true });
    sqliteDatabases.set(backend, database);
    return backend;
  },
  probe: createSqliteProbe((backend) => sqliteDatabases.get(backend) as Database.Database),
  capabilities: { storeClock: 'host' },
};

let pglite: PGlite | undefined;
function sharedPGlite(): PGlite {
  if (!pglite) {
    const created = new PGlite();
    closers.push(() => created.close());
    pglite = created;
  }
  return pglite;
}
// One embedded database for every namespace: schemas keep them apart, as on a real server.
export const pgliteTarget: BackendTarget<PostgresBackend> = {
  name: 'pglite',
  factory: (namespace) => createPostgresBackend({ client: sharedPGlite(), schema: namespace }),
  probe: createPostgresProbe(() => sharedPGlite()),
  // PGlite runs inside this process, so its clock is the host's (read through SQL all the same).
  capabilities: { storeClock: 'host' },
};

let pool: pg.Pool | undefined;
function postgresPool(): pg.Pool {
  const url = process.env.FLOWPROOF_TEST_POSTGRES_URL;
  if (!url) throw new Error('FLOWPROOF_TEST_POSTGRES_URL is not set');
  if (!pool) {
    const created = new pg.Pool({ connectionString: url, max: 20 });
    closers.push(() => created.end());
    pool = created;
  }
  return pool;
}
export const postgresTarget: BackendTarget<PostgresBackend> = {
  name: 'postgres',
  factory: (namespace) => createPostgresBackend({ client: postgresPool(), schema: namespace }),
  probe: createPostgresProbe(() => postgresPool()),
};

let redis: Redis | undefined;
function redisClient(): Redis {
  const url = process.env.FLOWPROOF_TEST_REDIS_URL;
  if (!url) throw new Error('FLOWPROOF_TEST_REDIS_URL is not set');
  if (!redis) {
    const created = new Redis(url, { maxRetriesPerRequest: 2 });
    closers.push(() => created.quit());
    redis = created;
  }
  return redis;
}
export const redisTarget: BackendTarget<RedisBackend> = {
  name: 'redis',
  factory: (namespace) => createRedisBackend({ client: redisClient(), keyPrefix: `${namespace}:` }),
  probe: redisProbe,
  capabilities: { transactions: false },
};
