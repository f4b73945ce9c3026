/**
 * The minimal structural view of a PostgreSQL client that flowproof calls. `pg.Pool`, a `pg.Client`
 * (or one checked out of a pool inside your transaction) and PGlite all fit, without flowproof
 * importing any of them.
 */

/** What a query returns: rows, and the affected-row count under either driver's name. */
export interface PostgresQueryResult {
  /** Result rows. */
  readonly rows: readonly unknown[];
  /** Rows affected (pg). */
  readonly rowCount?: number | null;
  /** Rows affected (PGlite). */
  readonly affectedRows?: number;
}

/** Anything with pg's `query(text, values)` method. */
export interface PostgresQueryable {
  /** Runs one parameterised statement. */
  query(text: string, values?: unknown[]): Promise<PostgresQueryResult>;
}

/** A connection checked out of a pool. */
export interface PostgresPoolConnection extends PostgresQueryable {
  /** Returns the connection; passing an error destroys it instead. */
  release(error?: Error | boolean): void;
}

/** A `pg.Pool`-like pool: transactions check a connection out of it. */
export interface PostgresPoolLike extends PostgresQueryable {
  /** Checks a connection out. */
  connect(): Promise<PostgresPoolConnection>;
  /** Present on `pg.Pool`; used to tell a pool from a single `pg.Client`. */
  readonly totalCount: number;
  /** Closes the pool. */
  end?(): Promise<void>;
}

/** A PGlite-like embedded database with callback transactions. */
export interface PGliteLike extends PostgresQueryable {
  /** Runs `fn` in a transaction on the single embedded connection. */
  transaction<T>(fn: (tx: PostgresQueryable) => Promise<T>): Promise<T>;
  /** Closes the database. */
  close?(): Promise<void>;
}

/** Any client flowproof accepts. */
export type PostgresClient = PostgresQueryable | PostgresPoolLike | PGliteLike;

/** @internal */
export function isPool(client: PostgresClient): client is PostgresPoolLike {
  return (
    typeof (client as PostgresPoolLike).connect === 'function' &&
    typeof (client as PostgresPoolLike).totalCount === 'number'
  );
}

/** @internal */
export function isPGlite(client: PostgresClient): client is PGliteLike {
  return (
    typeof (client as PGliteLike).transaction === 'function' && !isPool(client as PostgresClient)
  );
}
