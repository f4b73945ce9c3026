import type { PGlite, Transaction } from '@electric-sql/pglite';
import type pg from 'pg';
import { describe, expectTypeOf, it } from 'vitest';
import type {
  PGliteLike,
  PostgresClient,
  PostgresPoolConnection,
  PostgresPoolLike,
  PostgresQueryable,
} from './postgres-client.js';

describe('PostgresClient fits the drivers without importing them', () => {
  it('accepts pg.Pool, pg.Client and a checked-out pg.PoolClient', () => {
    expectTypeOf<pg.Pool>().toExtend<PostgresPoolLike>();
    expectTypeOf<pg.Pool>().toExtend<PostgresClient>();
    expectTypeOf<pg.Client>().toExtend<PostgresQueryable>();
    expectTypeOf<pg.PoolClient>().toExtend<PostgresPoolConnection>();
  });

  it('accepts PGlite and its transaction object', () => {
    expectTypeOf<PGlite>().toExtend<PGliteLike>();
    expectTypeOf<Transaction>().toExtend<PostgresQueryable>();
  });

  it('rejects what cannot run a query', () => {
    expectTypeOf<{ execute(sql: string): Promise<void> }>().not.toExtend<PostgresClient>();
  });
});
