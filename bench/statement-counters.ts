/**
 * Storage round trips, counted the same way by every suite: on PostgreSQL every statement a `pg`
 * client sends (`BEGIN` and `COMMIT` included), on SQLite every statement run through a
 * better-sqlite3 connection.
 */
import type Database from 'better-sqlite3';
import pg from 'pg';

/** Runs `fn` and returns how many statements `pg` clients sent meanwhile. */
export async function countPgStatements(fn: () => Promise<unknown>): Promise<number> {
  const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const query = proto.query;
  let statements = 0;
  proto.query = function (this: unknown, ...args: unknown[]) {
    statements += 1;
    return query.apply(this, args);
  };
  try {
    await fn();
  } finally {
    proto.query = query;
  }
  return statements;
}

/** A better-sqlite3 connection that counts the statements run through it. */
export function countingSqlite(database: Database.Database) {
  const counted = { statements: 0 };
  const count =
    <A extends unknown[], R>(fn: (...args: A) => R) =>
    (...args: A): R => {
      counted.statements += 1;
      return fn(...args);
    };
  const connection = {
    prepare: (sql: string) => {
      const statement = database.prepare(sql);
      return {
        all: count((...params: unknown[]) => statement.all(...params)),
        get: count((...params: unknown[]) => statement.get(...params)),
        run: count((...params: unknown[]) => statement.run(...params)),
      };
    },
    exec: count((sql: string) => database.exec(sql)),
  };
  /** Runs `fn` and returns how many statements were run through `connection` meanwhile. */
  const countStatements = async (fn: () => Promise<unknown>): Promise<number> => {
    const before = counted.statements;
    await fn();
    return counted.statements - before;
  };
  return { connection, countStatements };
}

/**
 * Runs `flow` `runs` times one after the other under `count` (one of the counters above);
 * returns the statements per operation, a flow being `opsPerFlow` operations.
 */
export async function statementsPerOperation(
  count: (fn: () => Promise<unknown>) => Promise<number>,
  flow: () => Promise<unknown>,
  runs: number,
  opsPerFlow = 1,
): Promise<number> {
  const statements = await count(async () => {
    for (let i = 0; i < runs; i += 1) await flow();
  });
  return statements / (runs * opsPerFlow);
}
