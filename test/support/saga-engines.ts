/**
 * Saga stores for engine tests: a fresh, migrated store per call on memory, SQLite and
 * PostgreSQL, and a wrapper that records each store call (and, on the SQL stores, each statement
 * the store sends to its backend), so a test can count storage round trips exactly.
 */
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, describe } from 'vitest';
import { createMemoryBackend, createMemorySagaStore } from '../../src/adapters/memory/index.js';
import {
  createPostgresBackend,
  createPostgresSagaStore,
} from '../../src/adapters/postgres/index.js';
import { createSqliteBackend, createSqliteSagaStore } from '../../src/adapters/sqlite/index.js';
import {
  createSagas,
  defineSaga,
  NonRetryableError,
  type SagaStore,
  type Sagas,
  type SagasOptions,
} from '../../src/saga/index.js';
import { uniqueNamespace } from '../../src/testing/index.js';
import { postgresUrl } from './services.js';

/** A store under test and what it recorded. */
export interface RecordingSagaStore {
  /** The store to hand to `createSagas`. */
  readonly store: SagaStore;
  /** Store method calls, in order (`create`, `save`, `get`…). */
  readonly calls: string[];
  /** SQL statements sent to the backend outside transactions, in order (empty on memory). */
  readonly statements: string[];
  /** The SQL backend, to read rows a transactional step wrote (undefined on memory). */
  readonly sql?: {
    query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<R[]>;
    execute(sql: string, params?: readonly unknown[]): Promise<number>;
    table(name: string): string;
  };
}

/** A backend to run engine tests over. */
export interface SagaStoreKind {
  readonly name: 'memory' | 'sqlite' | 'postgres';
  /** A fresh, migrated store on its own database (PostgreSQL: its own schema). */
  readonly open: () => Promise<RecordingSagaStore>;
  /** Whether the backend has a server (postgres) that may be missing. */
  readonly available: boolean;
}

const METHODS = [
  'migrate',
  'now',
  'create',
  'claim',
  'save',
  'heartbeat',
  'get',
  'list',
  'purge',
  'saveInTransaction',
  'close',
] as const;

/** `store` with each call recorded in `calls`. */
export function recordCalls(store: SagaStore, calls: string[]): SagaStore {
  const wrapped: Record<string, unknown> = { kind: store.kind };
  const target = store as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const method of METHODS) {
    if (typeof target[method] !== 'function') continue;
    wrapped[method] = (...args: unknown[]) => {
      calls.push(method);
      return target[method]!.apply(store, args);
    };
  }
  return wrapped as unknown as SagaStore;
}

/** Records each statement `backend.query`/`backend.execute` sends, in `statements`. */
function recordStatements(
  backend: { query: (...a: never[]) => unknown; execute: (...a: never[]) => unknown },
  statements: string[],
): void {
  for (const method of ['query', 'execute'] as const) {
    const original = (backend[method] as (...a: unknown[]) => unknown).bind(backend);
    (backend as Record<string, unknown>)[method] = (sql: string, ...rest: unknown[]) => {
      statements.push(sql);
      return original(sql, ...rest);
    };
  }
}

let pool: pg.Pool | undefined;
afterAll(async () => {
  await pool?.end();
  pool = undefined;
});

export const SAGA_STORE_KINDS: readonly SagaStoreKind[] = [
  {
    name: 'memory',
    available: true,
    open: async () => {
      const calls: string[] = [];
      const store = createMemorySagaStore({ backend: createMemoryBackend() });
      await store.migrate();
      return { store: recordCalls(store, calls), calls, statements: [] };
    },
  },
  {
    name: 'sqlite',
    available: true,
    open: async () => {
      const calls: string[] = [];
      const statements: string[] = [];
      const backend = createSqliteBackend({
        database: new Database(':memory:'),
        ownsDatabase: true,
      });
      const store = createSqliteSagaStore({ backend, ownsBackend: true });
      await store.migrate();
      recordStatements(backend, statements);
      return { store: recordCalls(store, calls), calls, statements, sql: backend };
    },
  },
  {
    name: 'postgres',
    available: postgresUrl() !== undefined,
    open: async () => {
      pool ??= new pg.Pool({ connectionString: postgresUrl(), max: 10 });
      const calls: string[] = [];
      const statements: string[] = [];
      const backend = createPostgresBackend({ client: pool, schema: uniqueNamespace('saga') });
      const store = createPostgresSagaStore({ backend });
      await store.migrate();
      recordStatements(backend, statements);
      return { store: recordCalls(store, calls), calls, statements, sql: backend };
    },
  },
];

/** What an SQL statement of the saga store is, from its text. */
export function statementKind(sql: string): 'insert' | 'claim' | 'save' | 'read' | 'other' {
  if (/INSERT INTO/.test(sql)) return 'insert';
  if (/lease_token = lease_token \+ 1/.test(sql)) return 'claim';
  if (/UPDATE[\s\S]*SET status =/.test(sql)) return 'save';
  if (/^\s*SELECT/.test(sql)) return 'read';
  return 'other';
}

/**
 * `describe` once per store kind (`fn` gets the kind); PostgreSQL is skipped, saying why, when
 * no server is available.
 */
export function describeEachSagaStore(
  title: string,
  fn: (kind: SagaStoreKind) => void,
  kinds: readonly SagaStoreKind['name'][] = ['memory', 'sqlite', 'postgres'],
): void {
  for (const kind of SAGA_STORE_KINDS.filter((k) => kinds.includes(k.name))) {
    if (kind.available) describe(`${title} (${kind.name})`, () => fn(kind));
    else
      describe.skip(`${title} (${kind.name}; skipped: PostgreSQL server not available)`, () =>
        fn(kind));
  }
}

/**
 * Engines and stores a test file opened, closed after each test: `engine()` opens one,
 * `cleanup()` (in `afterEach`) closes them, then the stores.
 */
export function sagaTestBed() {
  const engines: Sagas[] = [];
  const stores: RecordingSagaStore[] = [];
  return {
    engine(options: SagasOptions): Sagas {
      const sagas = createSagas(options);
      engines.push(sagas);
      return sagas;
    },
    async store(kind: SagaStoreKind): Promise<RecordingSagaStore> {
      const opened = await kind.open();
      stores.push(opened);
      return opened;
    },
    async cleanup(): Promise<void> {
      await Promise.all(engines.splice(0).map((e) => e.close({ timeoutMs: 0 })));
      await Promise.all(stores.splice(0).map((s) => s.store.close()));
    },
  };
}

/** Polls `check` until it returns something other than `undefined`; fails after `ms`. */
export async function eventually<T>(check: () => Promise<T | undefined>, ms = 5_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * One saga per way a saga ends: `completes` (completed), `compensates` (its second step declines
 * the card: compensated, failure `card declined`) and `deadLetters` (its step fails past the point
 * of no return: failed, error `carrier down`).
 */
export const endingSagas = {
  completes: defineSaga({ name: 'checkout' }).step('reserve', { run: () => 'r1' }),
  compensates: defineSaga({ name: 'refund' })
    .step('hold', { run: () => 'h', compensate: () => {} })
    .step('charge', {
      run: () => {
        throw new NonRetryableError('card declined');
      },
    }),
  deadLetters: defineSaga({ name: 'ship' }).step('label', {
    run: () => {
      throw new NonRetryableError('carrier down');
    },
    onFailure: 'dead-letter',
  }),
};
