import { assertStoreOptions } from '../../core/options.js';
import type { MigrationReport, MigrationSet } from '../../core/storage-backend.js';
import {
  DATA_KEY_STORE_COMPONENT,
  type DataKeyCreate,
  type DataKeyCreated,
  type DataKeyListRead,
  type DataKeyRewrap,
  type DataKeyRow,
  type DataKeyStore,
} from '../../privacy/data-key-store.js';
import {
  checkByName,
  checkDataKeyCreate,
  checkDataKeyId,
  checkDataKeyListRead,
  checkDataKeyRewrap,
  checkJob,
  checkSaveCursor,
  checkSubject,
  dataKeyRow,
  type StoredDataKeyRow,
} from '../data-key-store-input.js';
import { storeDataCorrupt } from '../store-data-corrupt.js';
import {
  bindNamed,
  type NamedStatement,
  namedStatement,
  type SqlBackend,
  type SqlDialect,
} from './sql-dialect.js';
import { insertOrFind, insertOrFindStatements } from './sql-insert-or-find.js';

/** The data-key store's table of keys (before the backend's prefix and schema). */
export const DATA_KEY_TABLE = 'privacy_data_keys';
/** The data-key store's table of resumable jobs' cursors. */
export const JOB_CURSOR_TABLE = 'privacy_job_cursors';

/** How one engine spells the data-key tables' columns, for {@link dataKeyTables}. */
export interface DataKeyColumnTypes {
  /**
   * The id column's type and generation: ids from 1 to 2³²−1, increasing, never handed out
   * twice (PostgreSQL: an identity; SQLite: `INTEGER PRIMARY KEY AUTOINCREMENT`).
   */
  readonly id: string;
  /** The text type. */
  readonly text: string;
  /** The 64-bit integer type. */
  readonly integer: string;
  /** The byte-string type. */
  readonly bytes: string;
}

/**
 * The data-key tables `keys` and `cursors` and their index (named by `index(suffix)`) as DDL
 * statements: keys by id, one per name and purpose; keys of a purpose by id, for `list` and
 * `newestFieldKey`; cursors by job.
 */
export function dataKeyTables(
  keys: string,
  cursors: string,
  index: (suffix: string) => string,
  types: DataKeyColumnTypes,
): string[] {
  const { text, integer } = types;
  return [
    `CREATE TABLE ${keys} (
       id ${types.id},
       purpose ${text} NOT NULL CHECK (purpose IN ('field', 'subject', 'index')),
       name ${text},
       kek_id ${text},
       wrapped ${types.bytes},
       created_at ${integer} NOT NULL,
       retired_at ${integer},
       shredded_at ${integer},
       UNIQUE (purpose, name)
     )`,
    `CREATE INDEX ${index('purpose')} ON ${keys} (purpose, id)`,
    `CREATE TABLE ${cursors} (
       job ${text} PRIMARY KEY,
       cursor ${text} NOT NULL,
       updated_at ${integer} NOT NULL
     )`,
  ];
}

/** How one engine spells what the data-key statements need beyond {@link SqlDialect}. */
export interface DataKeySqlDialect<B extends SqlBackend> {
  /** The shared spelling (placeholders). */
  readonly sql: SqlDialect<B>;
  /** The store's migrations. */
  readonly migrations: MigrationSet<B>;
  /** The engine's clock in epoch milliseconds, as an SQL expression. */
  readonly now: string;
  /** The engine runs an `INSERT` inside `WITH`, so a create of a named key is one statement. */
  readonly writableCte: boolean;
}

/**
 * Opens the data-key store shared by the SQL backends, after checking the factory's
 * `{ backend, ownsBackend }` options against the dialect.
 *
 * @throws TypeError naming the option when an option is invalid.
 */
export function createSqlDataKeyStore<B extends SqlBackend>(
  dialect: DataKeySqlDialect<B>,
  options: { readonly backend: B; readonly ownsBackend?: boolean },
): SqlDataKeyStore<B> {
  const { backend, ownsBackend } = assertStoreOptions(
    options,
    dialect.sql.kind,
    dialect.sql.label,
    dialect.sql.backendFactory,
  );
  return new SqlDataKeyStore(dialect, backend, ownsBackend);
}

/**
 * The data-key store over any {@link SqlBackend}. Every operation is one statement, but for the
 * create of a named key on engines without data-modifying `WITH` (an insert, then a read).
 */
export class SqlDataKeyStore<B extends SqlBackend> implements DataKeyStore<B> {
  readonly kind: B['kind'];
  readonly backend: B;
  readonly #dialect: DataKeySqlDialect<B>;
  readonly #ownsBackend: boolean;
  readonly #sql: DataKeyStatements;

  constructor(
    dialect: DataKeySqlDialect<B>,
    backend: B,
    ownsBackend: boolean,
    sql?: DataKeyStatements,
  ) {
    this.kind = dialect.sql.kind;
    this.backend = backend;
    this.#dialect = dialect;
    this.#ownsBackend = ownsBackend;
    this.#sql = sql ?? statements(dialect, backend);
  }

  withBackend(backend: B): SqlDataKeyStore<B> {
    if (backend?.kind !== this.kind) {
      throw new TypeError(`backend must be a ${this.#dialect.sql.label} backend`);
    }
    // Statements depend only on the tables' names; a transaction's backend names the same ones.
    const same = backend.table(DATA_KEY_TABLE) === this.#sql.table;
    return new SqlDataKeyStore(this.#dialect, backend, false, same ? this.#sql : undefined);
  }

  migrate(): Promise<MigrationReport> {
    return this.backend.migrate(this.#dialect.migrations);
  }

  /** The engine's clock, which every key's times are read from. */
  async now(): Promise<Date> {
    const [row] = await this.backend.query<{ now: string | number }>(this.#sql.now);
    return new Date(Number(row?.now));
  }

  async create(key: DataKeyCreate): Promise<DataKeyCreated> {
    checkDataKeyCreate(key);
    const values = { ...key };
    if (key.name === null) {
      const [row] = await this.#read(this.#sql.createField, values);
      return { key: row as DataKeyRow, created: true };
    }
    const { row, created } = await insertOrFind<StoredDataKeyRow>(
      this.backend,
      this.#sql.createNamed,
      values,
      `${key.purpose} key`,
    );
    return { key: dataKeyRow(row, this.kind), created };
  }

  async get(id: number): Promise<DataKeyRow | undefined> {
    checkDataKeyId(id);
    const [row] = await this.#read(this.#sql.get, { id });
    return row;
  }

  async byName(purpose: 'subject' | 'index', name: string): Promise<DataKeyRow | undefined> {
    checkByName(purpose, name);
    const [row] = await this.#read(this.#sql.byName, { purpose, name });
    return row;
  }

  async newestFieldKey(): Promise<DataKeyRow | undefined> {
    const [row] = await this.#read(this.#sql.newestFieldKey, {});
    return row;
  }

  async list(read: DataKeyListRead): Promise<readonly DataKeyRow[]> {
    checkDataKeyListRead(read);
    return this.#read(this.#sql.list, { ...read, afterId: read.afterId ?? 0 });
  }

  async rewrap(change: DataKeyRewrap): Promise<boolean> {
    checkDataKeyRewrap(change);
    const { rewrap } = this.#sql;
    return (await this.backend.execute(rewrap.sql, bindNamed(rewrap, { ...change }))) === 1;
  }

  async retire(id: number): Promise<DataKeyRow | undefined> {
    checkDataKeyId(id);
    const [row] = await this.#read(this.#sql.retire, { id });
    return row;
  }

  /**
   * Erases the subject's wrapped key in one `INSERT … ON CONFLICT DO UPDATE`: the live row's
   * `wrapped` and `kek_id` become NULL, or a tombstone is inserted. The engine may keep the old
   * bytes in its files until they are reused: PostgreSQL keeps the previous row version (a dead
   * tuple, and its TOAST chunks) until `VACUUM` reclaims it, and in the write-ahead log, its
   * archives and backups until they are rotated; SQLite keeps freed pages until they are
   * overwritten (`PRAGMA secure_delete` zeroes them at once) and in the WAL file until a
   * checkpoint. The key is unrecoverable through flowproof at once; make it unrecoverable on
   * disk with your vacuum and backup retention.
   */
  async shred(subject: string): Promise<DataKeyRow> {
    checkSubject(subject);
    const [row] = await this.#read(this.#sql.shred, { subject });
    return row as DataKeyRow;
  }

  async loadCursor(job: string): Promise<string | undefined> {
    checkJob(job);
    const { loadCursor } = this.#sql;
    const [row] = await this.backend.query<{ cursor: unknown }>(
      loadCursor.sql,
      bindNamed(loadCursor, { job }),
    );
    if (row === undefined) return undefined;
    if (typeof row.cursor !== 'string') throw cursorCorrupt(this.kind, job);
    return row.cursor;
  }

  async saveCursor(job: string, cursor: string | null): Promise<void> {
    checkSaveCursor(job, cursor);
    const statement = cursor === null ? this.#sql.clearCursor : this.#sql.saveCursor;
    await this.backend.execute(statement.sql, bindNamed(statement, { job, cursor }));
  }

  async close(): Promise<void> {
    if (this.#ownsBackend) await this.backend.close();
  }

  async #read(
    statement: NamedStatement,
    values: Readonly<Record<string, unknown>>,
  ): Promise<DataKeyRow[]> {
    const rows = await this.backend.query<StoredDataKeyRow>(
      statement.sql,
      bindNamed(statement, values),
    );
    return rows.map((row) => dataKeyRow(row, this.kind));
  }
}

function cursorCorrupt(backend: string, job: string) {
  return storeDataCorrupt({
    backend,
    component: DATA_KEY_STORE_COMPONENT,
    id: job,
    field: 'cursor',
  });
}

type DataKeyStatements = ReturnType<typeof statements>;

function statements<B extends SqlBackend>(dialect: DataKeySqlDialect<B>, backend: B) {
  const table = backend.table(DATA_KEY_TABLE);
  const cursors = backend.table(JOB_CURSOR_TABLE);
  const { now } = dialect;
  const statement = (build: Parameters<typeof namedStatement>[1]) =>
    namedStatement(dialect.sql, build);
  const columns = 'id, purpose, name, kek_id, wrapped, created_at, retired_at, shredded_at';
  const insert: Parameters<typeof namedStatement>[1] = ($) =>
    `INSERT INTO ${table} (purpose, name, kek_id, wrapped, created_at)
     VALUES (${$('purpose')}, ${$('name')}, ${$('kekId')}, ${$('wrapped')}, ${now})`;
  return {
    table,
    now: `SELECT ${now} AS now`,
    createField: statement(($) => `${insert($)} RETURNING ${columns}`),
    // A racing create of the same name finds the winner's row, in the same statement where the
    // engine allows it.
    createNamed: insertOrFindStatements(dialect.sql, dialect.writableCte, {
      insert: ($) => `${insert($)} ON CONFLICT (purpose, name) DO NOTHING`,
      find: ($) =>
        `SELECT ${columns} FROM ${table} WHERE purpose = ${$('purpose')} AND name = ${$('name')}`,
      columns,
    }),
    get: statement(($) => `SELECT ${columns} FROM ${table} WHERE id = ${$('id')}`),
    byName: statement(
      ($) =>
        `SELECT ${columns} FROM ${table} WHERE purpose = ${$('purpose')} AND name = ${$('name')}`,
    ),
    newestFieldKey: statement(
      () => `SELECT ${columns} FROM ${table}
       WHERE purpose = 'field' AND retired_at IS NULL ORDER BY id DESC LIMIT 1`,
    ),
    list: statement(
      ($) => `SELECT ${columns} FROM ${table}
       WHERE purpose = ${$('purpose')} AND id > ${$('afterId')} ORDER BY id LIMIT ${$('limit')}`,
    ),
    rewrap: statement(
      ($) => `UPDATE ${table} SET kek_id = ${$('kekId')}, wrapped = ${$('wrapped')}
       WHERE id = ${$('id')} AND kek_id = ${$('expectKekId')} AND shredded_at IS NULL`,
    ),
    // COALESCE keeps the first time; the UPDATE reads the newest row version, so a concurrent
    // retire is never answered with the row as it was before.
    retire: statement(
      ($) => `UPDATE ${table} SET retired_at = COALESCE(retired_at, ${now})
       WHERE id = ${$('id')} RETURNING ${columns}`,
    ),
    // One statement whatever the subject's state: an upsert is atomic against a racing create
    // or shred, where an UPDATE then an INSERT would need a retry.
    shred: statement(
      ($) => `INSERT INTO ${table} (purpose, name, kek_id, wrapped, created_at, shredded_at)
       VALUES ('subject', ${$('subject')}, NULL, NULL, ${now}, ${now})
       ON CONFLICT (purpose, name) DO UPDATE
         SET kek_id = NULL, wrapped = NULL,
             shredded_at = COALESCE(${table}.shredded_at, excluded.shredded_at)
       RETURNING ${columns}`,
    ),
    loadCursor: statement(($) => `SELECT cursor FROM ${cursors} WHERE job = ${$('job')}`),
    saveCursor: statement(
      ($) => `INSERT INTO ${cursors} (job, cursor, updated_at)
       VALUES (${$('job')}, ${$('cursor')}, ${now})
       ON CONFLICT (job) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at`,
    ),
    clearCursor: statement(($) => `DELETE FROM ${cursors} WHERE job = ${$('job')}`),
  };
}
