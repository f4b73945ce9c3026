import { assertStoreOptions } from '../../core/options.js';
import type { MigrationReport, MigrationSet } from '../../core/storage-backend.js';
import type {
  TokenPut,
  TokenPutResult,
  TokenRow,
  TokenVaultStore,
} from '../../privacy/token-vault-store.js';
import {
  checkDeleteBySubject,
  checkToken,
  checkTokenPut,
  type StoredTokenRow,
  tokenRow,
} from '../token-vault-store-input.js';
import {
  bindNamed,
  namedStatement,
  type SqlBackend,
  type SqlBatchDelete,
  type SqlDialect,
} from './sql-dialect.js';
import { insertOrFind, insertOrFindStatements } from './sql-insert-or-find.js';

/** The token-vault store's table (before the backend's prefix and schema). */
export const TOKEN_TABLE = 'privacy_tokens';

/** How one engine spells the token table's columns, for {@link tokenTable}. */
export interface TokenColumnTypes {
  /** The token's type: text compared byte by byte. */
  readonly token: string;
  /** The text type. */
  readonly text: string;
  /** The 64-bit integer type. */
  readonly integer: string;
}

/**
 * The token table `table` and its index (named by `index(suffix)`) as DDL statements: rows keyed
 * by token; the tokens of each data subject, for erasure.
 */
export function tokenTable(
  table: string,
  index: (suffix: string) => string,
  types: TokenColumnTypes,
): string[] {
  const { text, integer } = types;
  return [
    `CREATE TABLE ${table} (
       token ${types.token} PRIMARY KEY,
       tenant ${text} NOT NULL,
       type ${text} NOT NULL,
       subject ${text},
       ciphertext ${text} NOT NULL,
       created_at ${integer} NOT NULL
     )`,
    `CREATE INDEX ${index('subject')} ON ${table} (subject) WHERE subject IS NOT NULL`,
  ];
}

/** How one engine spells what the token statements need beyond {@link SqlDialect}. */
export interface TokenSqlDialect<B extends SqlBackend> {
  /** The shared spelling (placeholders). */
  readonly sql: SqlDialect<B>;
  /** The store's migrations. */
  readonly migrations: MigrationSet<B>;
  /** The engine's clock in epoch milliseconds, as an SQL expression. */
  readonly now: string;
  /** The engine runs an `INSERT` inside `WITH`, so a put is one statement. */
  readonly writableCte: boolean;
  /** How `deleteBySubject` picks the rows it deletes. */
  readonly deleteBatch: SqlBatchDelete;
}

/**
 * Opens the token-vault store shared by the SQL backends, after checking the factory's
 * `{ backend, ownsBackend }` options against the dialect.
 *
 * @throws TypeError naming the option when an option is invalid.
 */
export function createSqlTokenVaultStore<B extends SqlBackend>(
  dialect: TokenSqlDialect<B>,
  options: { readonly backend: B; readonly ownsBackend?: boolean },
): SqlTokenVaultStore<B> {
  const { backend, ownsBackend } = assertStoreOptions(
    options,
    dialect.sql.kind,
    dialect.sql.label,
    dialect.sql.backendFactory,
  );
  return new SqlTokenVaultStore(dialect, backend, ownsBackend);
}

/**
 * The token-vault store over any {@link SqlBackend}: a put is an insert-or-read of the token's
 * row, a read one probe of the primary key, an erasure batch one `DELETE` over the subject index.
 */
export class SqlTokenVaultStore<B extends SqlBackend> implements TokenVaultStore<B> {
  readonly kind: B['kind'];
  readonly backend: B;
  readonly #dialect: TokenSqlDialect<B>;
  readonly #ownsBackend: boolean;
  readonly #sql: TokenStatements;

  constructor(
    dialect: TokenSqlDialect<B>,
    backend: B,
    ownsBackend: boolean,
    sql?: TokenStatements,
  ) {
    this.kind = dialect.sql.kind;
    this.backend = backend;
    this.#dialect = dialect;
    this.#ownsBackend = ownsBackend;
    this.#sql = sql ?? statements(dialect, backend);
  }

  withBackend(backend: B): SqlTokenVaultStore<B> {
    if (backend?.kind !== this.kind) {
      throw new TypeError(`backend must be a ${this.#dialect.sql.label} backend`);
    }
    // Statements depend only on the table's name; a transaction's backend names the same table.
    const same = backend.table(TOKEN_TABLE) === this.#sql.table;
    return new SqlTokenVaultStore(this.#dialect, backend, false, same ? this.#sql : undefined);
  }

  migrate(): Promise<MigrationReport> {
    return this.backend.migrate(this.#dialect.migrations);
  }

  /** The engine's clock, which every token's time is read from. */
  async now(): Promise<Date> {
    const [row] = await this.backend.query<{ now: string | number }>(this.#sql.now);
    return new Date(Number(row?.now));
  }

  async put(token: TokenPut): Promise<TokenPutResult> {
    checkTokenPut(token);
    const { row, created } = await insertOrFind<StoredTokenRow>(
      this.backend,
      this.#sql.put,
      { ...token },
      'token',
    );
    return { row: tokenRow(row, this.kind), created };
  }

  async get(token: string): Promise<TokenRow | undefined> {
    checkToken(token);
    const { get } = this.#sql;
    const [row] = await this.backend.query<StoredTokenRow>(get.sql, bindNamed(get, { token }));
    return row && tokenRow(row, this.kind);
  }

  async deleteBySubject(subject: string, limit: number): Promise<number> {
    checkDeleteBySubject(subject, limit);
    const { deleteBySubject } = this.#sql;
    return this.backend.execute(
      deleteBySubject.sql,
      bindNamed(deleteBySubject, { subject, limit }),
    );
  }

  async close(): Promise<void> {
    if (this.#ownsBackend) await this.backend.close();
  }
}

type TokenStatements = ReturnType<typeof statements>;

function statements<B extends SqlBackend>(dialect: TokenSqlDialect<B>, backend: B) {
  const table = backend.table(TOKEN_TABLE);
  const { now } = dialect;
  const columns = 'token, tenant, type, subject, ciphertext, created_at';
  const byToken = ($: (name: string) => string) =>
    `SELECT ${columns} FROM ${table} WHERE token = ${$('token')}`;
  return {
    table,
    now: `SELECT ${now} AS now`,
    // A racing put of the same token finds the winner's row, in the same statement where the
    // engine allows it.
    put: insertOrFindStatements(dialect.sql, dialect.writableCte, {
      insert: ($) => `INSERT INTO ${table} (${columns})
        VALUES (${$('token')}, ${$('tenant')}, ${$('type')}, ${$('subject')}, ${$('ciphertext')}, ${now})
        ON CONFLICT (token) DO NOTHING`,
      find: byToken,
      columns,
    }),
    get: namedStatement(dialect.sql, byToken),
    // One short statement per batch: erasure calls it until it deletes less than the limit.
    deleteBySubject: namedStatement(dialect.sql, ($) => {
      const { key, lock, match } = dialect.deleteBatch;
      const batch = `SELECT ${key} FROM ${table} WHERE subject = ${$('subject')}
         LIMIT ${$('limit')} ${lock}`;
      return `DELETE FROM ${table} WHERE ${match(key, batch)}`;
    }),
  };
}
