/**
 * Rewrap sources over one encrypted column of a PostgreSQL or SQLite table: keyset pagination on
 * the table's key, compare-and-set updates (a value written meanwhile is left alone).
 */
import { describeValue } from '../../core/errors.js';
import { assertSqlIdentifier, readObject } from '../../core/options.js';
import type { EncryptionContext } from './ciphertext-format.js';
import type { RewrapRow, RewrapSource, RewrapUpdate } from './rewrap.js';

/**
 * The part of a flowproof SQL backend (`createPostgresBackend`, `createSqliteBackend`) a rewrap
 * source uses.
 */
export interface RewrapSqlBackend {
  /** `postgres` or `sqlite`. */
  readonly kind: string;
  /** Runs one statement and returns its rows. */
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<R[]>;
  /** Runs one statement and returns how many rows it changed. */
  execute(sql: string, params?: readonly unknown[]): Promise<number>;
  /** Runs `fn` in a transaction. */
  transaction<T>(fn: (backend: RewrapSqlBackend) => Promise<T>): Promise<T>;
}

/** Options of {@link createPostgresRewrapSource} and {@link createSqliteRewrapSource}. */
export interface SqlRewrapSourceOptions {
  /** The backend the table is on. */
  readonly backend: RewrapSqlBackend;
  /** The table, optionally schema-qualified (`app.users`). */
  readonly table: string;
  /** The table's unique key column (rows are paged in its order), e.g. `id`. */
  readonly keyColumn: string;
  /** The encrypted column (base64url text). */
  readonly column: string;
  /**
   * Further columns to read for {@link context} (a tenant or owner column, say).
   * @default []
   */
  readonly contextColumns?: readonly string[];
  /**
   * The context each value was encrypted for, from its row: the key column (as text) and the
   * context columns, by name.
   *
   * @example
   * ```ts
   * context: (row) => ({ table: 'users', column: 'email', row: String(row.id) })
   * ```
   */
  readonly context: (row: Readonly<Record<string, unknown>>) => EncryptionContext;
}

/**
 * A {@link RewrapSource} over one encrypted column of a PostgreSQL table: pages by the key column
 * (`WHERE key > $1 ORDER BY key LIMIT n`, so use an indexed key) and writes each batch back in one
 * statement, only where the column still holds the value read.
 *
 * @example
 * ```ts
 * const source = createPostgresRewrapSource({
 *   backend, table: 'users', keyColumn: 'id', column: 'email',
 *   context: (row) => ({ table: 'users', column: 'email', row: String(row.id) }),
 * });
 * await encryption.rewrap(source, { job: 'users.email' });
 * ```
 * @throws TypeError naming a bad option (identifiers: letters, digits and underscores).
 */
export function createPostgresRewrapSource(options: SqlRewrapSourceOptions): RewrapSource {
  return createSqlRewrapSource(options, 'postgres');
}

/**
 * A {@link RewrapSource} over one encrypted column of a SQLite table; see
 * {@link createPostgresRewrapSource}. Each batch is written in one transaction.
 *
 * @example
 * ```ts
 * const source = createSqliteRewrapSource({
 *   backend, table: 'users', keyColumn: 'id', column: 'email',
 *   context: (row) => ({ table: 'users', column: 'email', row: String(row.id) }),
 * });
 * ```
 * @throws TypeError naming a bad option.
 */
export function createSqliteRewrapSource(options: SqlRewrapSourceOptions): RewrapSource {
  return createSqlRewrapSource(options, 'sqlite');
}

/** PostgreSQL type names `pg_typeof` gives that may be written into a cast. */
const TYPE_NAME = /^[a-z][a-z0-9_ ]*(\[\])?$/;

function createSqlRewrapSource(
  options: SqlRewrapSourceOptions,
  kind: 'postgres' | 'sqlite',
): RewrapSource {
  options = readObject(
    options,
    'options',
    'backend table keyColumn column contextColumns context',
  ) as unknown as typeof options;
  const { backend, context, contextColumns = [] } = options;
  if (
    (backend as Partial<RewrapSqlBackend> | null)?.kind !== kind ||
    typeof backend.query !== 'function'
  ) {
    throw new TypeError(`options.backend must be a ${kind} backend`);
  }
  if (typeof options.table !== 'string') {
    throw new TypeError(`options.table must be a string, got ${describeValue(options.table)}`);
  }
  const table = options.table
    .split('.')
    .map((part, i) => quote(assertSqlIdentifier(part, i === 0 ? 'options.table' : 'options.table')))
    .join('.');
  const key = quote(assertSqlIdentifier(options.keyColumn, 'options.keyColumn'));
  const column = quote(assertSqlIdentifier(options.column, 'options.column'));
  if (!Array.isArray(contextColumns))
    throw new TypeError('options.contextColumns must be an array');
  const extras = contextColumns.map((name, i) =>
    assertSqlIdentifier(name, `options.contextColumns[${i}]`),
  );
  if (typeof context !== 'function') throw new TypeError('options.context must be a function');
  const keyName = options.keyColumn;
  const select = [
    `CAST(${key} AS TEXT) AS "cursor"`,
    `${column} AS "ciphertext"`,
    ...extras.map((name) => `${quote(name)} AS ${quote(`x_${name}`)}`),
    ...(kind === 'postgres' ? [`pg_typeof(${key})::text AS "key_type"`] : []),
  ].join(', ');
  const p = (n: number) => (kind === 'postgres' ? `$${n}` : '?');
  const first = `SELECT ${select} FROM ${table} WHERE ${column} IS NOT NULL ORDER BY ${key} LIMIT ${p(1)}`;
  const after = `SELECT ${select} FROM ${table} WHERE ${column} IS NOT NULL AND ${key} > ${p(1)} ORDER BY ${key} LIMIT ${p(2)}`;
  /** The key column's type, for the cast in the batched update (PostgreSQL). */
  let keyType: string | undefined;

  return {
    async page(afterCursor, limit) {
      const rows = await backend.query<Record<string, unknown>>(
        afterCursor === null ? first : after,
        afterCursor === null ? [limit] : [afterCursor, limit],
      );
      return rows.map((row): RewrapRow => {
        if (kind === 'postgres' && keyType === undefined) keyType = String(row.key_type);
        const cursor = String(row.cursor);
        const values: Record<string, unknown> = { [keyName]: cursor };
        for (const name of extras) values[name] = row[`x_${name}`];
        return { cursor, ciphertext: String(row.ciphertext), context: context(values) };
      });
    },
    async update(rows: readonly RewrapUpdate[]) {
      if (rows.length === 0) return 0;
      if (kind === 'postgres') {
        if (keyType === undefined || !TYPE_NAME.test(keyType)) {
          throw new TypeError(
            `the key column's type (${String(keyType)}) cannot be used in a cast`,
          );
        }
        return backend.execute(
          `UPDATE ${table} AS t SET ${column} = v.rewrapped
             FROM unnest($1::text[], $2::text[], $3::text[]) AS v(cursor, ciphertext, rewrapped)
            WHERE t.${key} = v.cursor::${keyType} AND t.${column} = v.ciphertext`,
          [
            rows.map((row) => row.cursor),
            rows.map((row) => row.ciphertext),
            rows.map((row) => row.rewrapped),
          ],
        );
      }
      return backend.transaction(async (tx) => {
        let changed = 0;
        for (const row of rows) {
          changed += await tx.execute(
            `UPDATE ${table} SET ${column} = ? WHERE ${key} = ? AND ${column} = ?`,
            [row.rewrapped, row.cursor, row.ciphertext],
          );
        }
        return changed;
      });
    },
  };
}

function quote(identifier: string): string {
  return `"${identifier}"`;
}
