import type Database from 'better-sqlite3';
import { describe, expectTypeOf, it } from 'vitest';
import type { SqliteDatabaseLike } from './sqlite-client.js';

/** The documented shape of Node's `node:sqlite` `DatabaseSync` (Node ≥ 22.5; not in @types/node 20). */
type SqlInputValue = null | number | bigint | string | NodeJS.ArrayBufferView;
interface NodeSqliteStatementSync {
  all(...parameters: SqlInputValue[]): Record<string, unknown>[];
  get(...parameters: SqlInputValue[]): Record<string, unknown> | undefined;
  run(...parameters: SqlInputValue[]): {
    changes: number | bigint;
    lastInsertRowid: number | bigint;
  };
}
interface NodeSqliteDatabaseSync {
  prepare(sql: string): NodeSqliteStatementSync;
  exec(sql: string): void;
  close(): void;
}

describe('SqliteDatabaseLike fits the drivers without importing them', () => {
  it('accepts better-sqlite3 and node:sqlite connections', () => {
    expectTypeOf<Database.Database>().toExtend<SqliteDatabaseLike>();
    expectTypeOf<NodeSqliteDatabaseSync>().toExtend<SqliteDatabaseLike>();
  });

  it('rejects an async driver', () => {
    expectTypeOf<{ query(sql: string): Promise<unknown> }>().not.toExtend<SqliteDatabaseLike>();
  });
});
