/**
 * The minimal structural view of a synchronous SQLite connection that flowproof calls.
 * `better-sqlite3`'s `Database` fits, and so does Node's `node:sqlite` `DatabaseSync`.
 */

/** A prepared statement. */
export interface SqliteStatement {
  /** Runs the statement and returns every row. */
  all(...params: unknown[]): unknown[];
  /** Runs the statement and returns the first row, if any. */
  get(...params: unknown[]): unknown;
  /** Runs the statement for its effect. */
  run(...params: unknown[]): {
    /** Rows changed by the statement. */
    readonly changes: number | bigint;
  };
}

/** A synchronous SQLite connection. */
export interface SqliteDatabaseLike {
  /** Compiles `sql`. */
  prepare(sql: string): SqliteStatement;
  /** Runs one or more statements without parameters. */
  exec(sql: string): unknown;
  /** Closes the connection. */
  close?(): unknown;
}
