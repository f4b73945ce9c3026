import type { StorageBackend } from '../../core/storage-backend.js';

/**
 * What the shared SQL module stores call on a backend. The PostgreSQL and the SQLite backend both
 * fit, so a store written once over this runs on either.
 */
export interface SqlBackend extends StorageBackend {
  /** A table's name as statements spell it: prefixed, and schema-qualified on PostgreSQL. */
  table(name: string): string;
  /** Runs one statement and returns its rows. */
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<R[]>;
  /** Runs one statement and returns the number of rows it changed. */
  execute(sql: string, params?: readonly unknown[]): Promise<number>;
}

/** The column types a parameter may need a cast to where the engine cannot infer it. */
export type SqlParamType = 'jsonb' | 'timestamptz' | 'text';

/**
 * How one SQL engine spells the few things the shared stores' statements leave open. Statements
 * are built from it once per store instance, never per call.
 */
export interface SqlDialect<B extends SqlBackend> {
  /** The backend kind the stores accept (`backend.kind`). */
  readonly kind: B['kind'];
  /** The engine's name in error messages, e.g. `PostgreSQL`. */
  readonly label: string;
  /** The factory that makes such a backend, named in error messages. */
  readonly backendFactory: string;
  /** The placeholder of the `n`-th (1-based) parameter, cast to `type` where the engine needs it. */
  param(n: number, type?: SqlParamType): string;
  /** A JSON column read back as JSON text, so SQL NULL (no value) stays apart from JSON null. */
  jsonText(column: string): string;
  /** A timestamp column as the driver returns it, as UTC ISO-8601 text. */
  isoTime(value: Date | string): string;
}

/**
 * How one engine reads rows passed as one JSON parameter (an array of arrays), so a batch is one
 * statement with one parameter whatever its size.
 */
export interface SqlJsonRows {
  /**
   * A FROM item over the JSON array of arrays in `placeholder`, as rows `r` whose element `i` is
   * {@link field}`(i)` and whose order in the array is {@link rowOrder}.
   */
  rows(placeholder: string): string;
  /** Element `i` of a row of {@link rows}, as `type`. */
  field(i: number, type: 'text' | 'bigint' | 'json'): string;
  /** The position of a row of {@link rows} in its array. */
  readonly rowOrder: string;
}

/**
 * How one engine deletes a bounded batch of rows in one `DELETE`: the rows a subquery picks
 * (`SELECT <key> … LIMIT n <lock>`), deleted by key.
 */
export interface SqlBatchDelete {
  /** The column the subquery selects (`id`, or SQLite's `rowid`). */
  readonly key: string;
  /**
   * Appended to the subquery: `FOR UPDATE SKIP LOCKED` where concurrent deletes should take
   * different rows, empty where a write locks the whole database (SQLite).
   */
  readonly lock: string;
  /**
   * The `DELETE`'s condition on `key` over the rows `subquery` selects, spelled so the engine
   * deletes them by key (PostgreSQL would hash-join `IN (subquery)` against the whole table).
   */
  match(key: string, subquery: string): string;
}

/**
 * JSON text for a JSON parameter (never the value itself: `pg` would turn arrays into PostgreSQL
 * arrays), or SQL NULL for `undefined`; throws `TypeError` for values JSON cannot hold.
 */
export function jsonParam(value: unknown): string | null {
  return value === undefined ? null : JSON.stringify(value);
}

/** A statement with named parameters: `names[i]` is the value bound to the `i`-th placeholder. */
export interface NamedStatement {
  /** The statement's text. */
  readonly sql: string;
  /** The value names, in placeholder order. */
  readonly names: readonly string[];
}

/**
 * Builds one statement where `$(name)` is a placeholder for the value `name`. Every use is its
 * own placeholder, so SQLite's positional `?` and PostgreSQL's `$n` bind the same way.
 */
export function namedStatement(
  dialect: Pick<SqlDialect<SqlBackend>, 'param'>,
  build: ($: (name: string, type?: SqlParamType) => string) => string,
): NamedStatement {
  const names: string[] = [];
  const sql = build((name, type) => {
    names.push(name);
    return dialect.param(names.length, type);
  });
  return { sql, names };
}

/** The parameters of `statement` from `values` (a missing value binds SQL NULL). */
export function bindNamed(
  statement: NamedStatement,
  values: Readonly<Record<string, unknown>>,
): unknown[] {
  return statement.names.map((name) => values[name] ?? null);
}
