import { assertStoreOptions } from '../../core/options.js';
import type { MigrationReport, MigrationSet } from '../../core/storage-backend.js';
import type {
  LineageAppend,
  LineageCorrelationRead,
  LineageHistoryRead,
  LineagePurgeRequest,
  LineageRow,
  LineageStore,
} from '../../lineage/lineage-store.js';
import {
  checkCorrelationRead,
  checkHistoryRead,
  checkLatest,
  checkLineageAppends,
  checkPurge,
  lineageRecordExists,
  lineageRow,
  type StoredLineageRow,
} from '../lineage-store-input.js';
import {
  bindNamed,
  type NamedStatement,
  namedStatement,
  type SqlBackend,
  type SqlBatchDelete,
  type SqlDialect,
  type SqlJsonRows,
} from './sql-dialect.js';

/** The lineage store's table (before the backend's prefix and schema). */
export const LINEAGE_TABLE = 'lineage_records';

/** How one engine spells the lineage table's columns, for {@link lineageTable}. */
export interface LineageColumnTypes {
  /** The id's type: text compared byte by byte, so ids order as ULIDs do. */
  readonly id: string;
  /** The text type. */
  readonly text: string;
  /** The 64-bit integer type. */
  readonly integer: string;
}

/**
 * The lineage table `table` and its indexes (named by `index(suffix)`) as DDL statements: rows
 * keyed by id; one field's `value` records by time and id, newest first, for `latest` and
 * `history`; records by correlation id, oldest first; all records by time, for `purge`.
 */
export function lineageTable(
  table: string,
  index: (suffix: string) => string,
  types: LineageColumnTypes,
): string[] {
  const { text, integer } = types;
  return [
    `CREATE TABLE ${table} (
       id ${types.id} PRIMARY KEY,
       kind ${text} NOT NULL CHECK (kind IN ('value', 'run')),
       entity ${text},
       field ${text},
       job ${text},
       run_id ${text},
       correlation_id ${text},
       causation_id ${text},
       recorded_at ${integer} NOT NULL,
       body ${text} NOT NULL
     )`,
    `CREATE INDEX ${index('field')} ON ${table} (entity, field, recorded_at DESC, id DESC)
       WHERE kind = 'value'`,
    `CREATE INDEX ${index('correlation')} ON ${table} (correlation_id, recorded_at, id)
       WHERE correlation_id IS NOT NULL`,
    `CREATE INDEX ${index('time')} ON ${table} (recorded_at, id)`,
  ];
}

/**
 * How one engine spells what the lineage statements need beyond {@link SqlDialect}: its clock,
 * rows passed as one JSON parameter, and how a purge picks its rows.
 */
export interface LineageSqlDialect<B extends SqlBackend> extends SqlJsonRows {
  /** The shared spelling (placeholders). */
  readonly sql: SqlDialect<B>;
  /** The store's migrations. */
  readonly migrations: MigrationSet<B>;
  /** The engine's clock in epoch milliseconds, as an SQL expression. */
  readonly now: string;
  /** How a purge's `DELETE` picks the rows it deletes, by the purge's own key column. */
  readonly purge: SqlBatchDelete;
}

/**
 * Opens the lineage store shared by the SQL backends, after checking the factory's
 * `{ backend, ownsBackend }` options against the dialect.
 *
 * @throws TypeError naming the option when an option is invalid.
 */
export function createSqlLineageStore<B extends SqlBackend>(
  dialect: LineageSqlDialect<B>,
  options: { readonly backend: B; readonly ownsBackend?: boolean },
): SqlLineageStore<B> {
  const { backend, ownsBackend } = assertStoreOptions(
    options,
    dialect.sql.kind,
    dialect.sql.label,
    dialect.sql.backendFactory,
  );
  return new SqlLineageStore(dialect, backend, ownsBackend);
}

/**
 * The lineage store over any {@link SqlBackend}. One record is one `INSERT`; a batch is one
 * `INSERT` in a transaction (a savepoint inside the caller's), undone when an id is stored
 * already. Every read is one statement over an index; a purge is one `DELETE`.
 */
export class SqlLineageStore<B extends SqlBackend> implements LineageStore<B> {
  readonly kind: B['kind'];
  readonly backend: B;
  readonly #dialect: LineageSqlDialect<B>;
  readonly #ownsBackend: boolean;
  readonly #sql: LineageStatements;

  constructor(
    dialect: LineageSqlDialect<B>,
    backend: B,
    ownsBackend: boolean,
    sql?: LineageStatements,
  ) {
    this.kind = dialect.sql.kind;
    this.backend = backend;
    this.#dialect = dialect;
    this.#ownsBackend = ownsBackend;
    this.#sql = sql ?? statements(dialect, backend);
  }

  withBackend(backend: B): SqlLineageStore<B> {
    if (backend?.kind !== this.kind) {
      throw new TypeError(`backend must be a ${this.#dialect.sql.label} backend`);
    }
    // Statements depend only on the table's name; a transaction's backend names the same table.
    const same = backend.table(LINEAGE_TABLE) === this.#sql.table;
    return new SqlLineageStore(this.#dialect, backend, false, same ? this.#sql : undefined);
  }

  migrate(): Promise<MigrationReport> {
    return this.backend.migrate(this.#dialect.migrations);
  }

  /** The engine's clock, which every record's time is read from. */
  async now(): Promise<Date> {
    const [row] = await this.backend.query<{ now: string | number }>(this.#sql.now);
    return new Date(Number(row?.now));
  }

  async append(records: readonly LineageAppend[]): Promise<readonly LineageRow[]> {
    checkLineageAppends(records);
    if (records.length === 0) return [];
    const rows = JSON.stringify(
      records.map((r) => [
        r.id,
        r.kind,
        r.entity,
        r.field,
        r.job,
        r.runId,
        r.correlationId,
        r.causationId,
        r.body,
      ]),
    );
    const insert = async (backend: B) => {
      const inserted = await backend.query<{ id: unknown; recorded_at: unknown }>(
        this.#sql.insert.sql,
        bindNamed(this.#sql.insert, { rows }),
      );
      const times = new Map(inserted.map((row) => [row.id, row.recorded_at]));
      // An id stored already was skipped (ON CONFLICT DO NOTHING): throwing undoes the others.
      const clash = records.find((r) => !times.has(r.id));
      if (clash !== undefined) throw lineageRecordExists(clash.id);
      return records.map((r) =>
        lineageRow(
          {
            id: r.id,
            kind: r.kind,
            entity: r.entity,
            field: r.field,
            job: r.job,
            run_id: r.runId,
            correlation_id: r.correlationId,
            causation_id: r.causationId,
            recorded_at: times.get(r.id),
            body: r.body,
          },
          this.kind,
        ),
      );
    };
    // One row is all or none on its own; several need a transaction to undo the rest.
    return records.length === 1 ? insert(this.backend) : this.backend.transaction(insert);
  }

  async latest(entity: string, field: string, at?: number): Promise<LineageRow | undefined> {
    checkLatest(entity, field, at);
    const [row] = await this.#read(this.#sql.latest, {
      entity,
      field,
      at: at ?? Number.MAX_SAFE_INTEGER,
    });
    return row;
  }

  async history(read: LineageHistoryRead): Promise<readonly LineageRow[]> {
    checkHistoryRead(read);
    const { before } = read;
    return before === undefined
      ? this.#read(this.#sql.history, { ...read })
      : this.#read(this.#sql.historyBefore, { ...read, at: before.recordedAt, id: before.id });
  }

  async byCorrelation(read: LineageCorrelationRead): Promise<readonly LineageRow[]> {
    checkCorrelationRead(read);
    const { after, kind } = read;
    const sql = this.#sql.byCorrelation;
    const statement =
      kind === undefined
        ? after === undefined
          ? sql.all
          : sql.allAfter
        : after === undefined
          ? sql.ofKind
          : sql.ofKindAfter;
    return this.#read(statement, { ...read, at: after?.recordedAt, id: after?.id });
  }

  async purge(request: LineagePurgeRequest): Promise<number> {
    checkPurge(request);
    const { purge } = this.#sql;
    return this.backend.execute(purge.sql, bindNamed(purge, { ...request }));
  }

  async close(): Promise<void> {
    if (this.#ownsBackend) await this.backend.close();
  }

  async #read(
    statement: NamedStatement,
    values: Readonly<Record<string, unknown>>,
  ): Promise<LineageRow[]> {
    const rows = await this.backend.query<StoredLineageRow>(
      statement.sql,
      bindNamed(statement, values),
    );
    return rows.map((row) => lineageRow(row, this.kind));
  }
}

type LineageStatements = ReturnType<typeof statements>;

function statements<B extends SqlBackend>(dialect: LineageSqlDialect<B>, backend: B) {
  const table = backend.table(LINEAGE_TABLE);
  const { field, now } = dialect;
  const statement = (build: ($: (name: string) => string) => string) =>
    namedStatement(dialect.sql, build);
  const columns =
    'id, kind, entity, field, job, run_id, correlation_id, causation_id, recorded_at, body';
  const ofField = ($: (name: string) => string) =>
    `kind = 'value' AND entity = ${$('entity')} AND field = ${$('field')}`;
  const newestFirst = 'ORDER BY recorded_at DESC, id DESC';
  const correlation = (kind: boolean, after: boolean) =>
    statement(
      ($) => `SELECT ${columns} FROM ${table}
       WHERE correlation_id = ${$('correlationId')}
         ${kind ? `AND kind = ${$('kind')}` : ''}
         ${after ? `AND (recorded_at, id) > (${$('at')}, ${$('id')})` : ''}
       ORDER BY recorded_at, id LIMIT ${$('limit')}`,
    );
  return {
    table,
    now: `SELECT ${now} AS now`,
    // The clock is read once, so a batch shares one time. WHERE 1 = 1: SQLite reads
    // `ON CONFLICT` after a bare SELECT's FROM as a join's ON.
    insert: statement(
      ($) => `WITH clock AS (SELECT ${now} AS now)
      INSERT INTO ${table} (${columns})
      SELECT ${[0, 1, 2, 3, 4, 5, 6, 7].map((i) => field(i, 'text')).join(', ')},
             clock.now, ${field(8, 'text')}
        FROM ${dialect.rows($('rows'))}, clock WHERE 1 = 1
       ORDER BY ${dialect.rowOrder}
      ON CONFLICT (id) DO NOTHING
      RETURNING id, recorded_at`,
    ),
    latest: statement(
      ($) => `SELECT ${columns} FROM ${table}
       WHERE ${ofField($)} AND recorded_at <= ${$('at')}
       ${newestFirst} LIMIT 1`,
    ),
    history: statement(
      ($) => `SELECT ${columns} FROM ${table}
       WHERE ${ofField($)} ${newestFirst} LIMIT ${$('limit')}`,
    ),
    historyBefore: statement(
      ($) => `SELECT ${columns} FROM ${table}
       WHERE ${ofField($)} AND (recorded_at, id) < (${$('at')}, ${$('id')})
       ${newestFirst} LIMIT ${$('limit')}`,
    ),
    /** One statement per shape of read: of any kind or one, from the start or after a position. */
    byCorrelation: {
      all: correlation(false, false),
      allAfter: correlation(false, true),
      ofKind: correlation(true, false),
      ofKindAfter: correlation(true, true),
    },
    // The oldest `limit` rows in one statement: a short lock, and (PostgreSQL) rows another
    // purge holds are skipped rather than waited for.
    purge: statement(($) => {
      const { key, lock, match } = dialect.purge;
      const oldest = `SELECT ${key} FROM ${table} WHERE recorded_at < ${$('before')}
         ORDER BY recorded_at, id LIMIT ${$('limit')} ${lock}`;
      return `DELETE FROM ${table} WHERE ${match(key, oldest)}`;
    }),
  };
}
