import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import {
  createMemoryBackend,
  createMemoryEntityStore,
  createMemoryIdempotencyStore,
} from './memory/index.js';
import {
  createSqliteBackend,
  createSqliteEntityStore,
  createSqliteIdempotencyStore,
} from './sqlite/index.js';

describe('withBackend() of the module stores', () => {
  const memory = createMemoryBackend();
  const sqlite = createSqliteBackend({ database: new Database(':memory:') });
  const stores = [
    ['memory idempotency', createMemoryIdempotencyStore({ backend: memory }), sqlite, memory],
    ['memory entity', createMemoryEntityStore({ backend: memory }), sqlite, memory],
    ['SQLite idempotency', createSqliteIdempotencyStore({ backend: sqlite }), memory, sqlite],
    ['SQLite entity', createSqliteEntityStore({ backend: sqlite }), memory, sqlite],
  ] as const;

  it.each(stores)('%s store refuses a backend of another kind', (_, store, other, own) => {
    const bind = store.withBackend.bind(store) as (backend: unknown) => unknown;
    expect(() => bind(other)).toThrow(TypeError);
    expect(() => bind(undefined)).toThrow(/backend must be a/);
    expect(bind(own)).toMatchObject({ kind: own.kind });
  });
});
