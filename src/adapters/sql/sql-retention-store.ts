import { assertStoreOptions } from '../../core/options.js';
import type { MigrationReport, MigrationSet } from '../../core/storage-backend.js';
import type {
  CreatedErasureRequest,
  DeadlineQuery,
  ErasureLedgerEntry,
  ErasureLocationRow,
  ErasureRequestPatch,
  ErasureRequestRow,
  HoldLookup,
  LegalHoldRow,
  NewErasureRequest,
  NewLegalHold,
  RetentionStore,
  SettledLocation,
} from '../../retention/retention-store.js';
import {
  checkAddLocations,
  checkDeadlineQuery,
  checkHoldList,
  checkHoldLookup,
  checkKey,
  checkLedgerEntry,
  checkLedgerQuery,
  checkMark,
  checkNewHold,
  checkNewRequest,
  checkRelease,
  checkSettle,
  checkStatusQuery,
  checkSubjectRead,
  checkUpdate,
  DEFAULT_HOLD_LIMIT,
  type HoldListQuery,
  holdRow,
  isFinalStatus,
  ledgerEntry,
  locationRow,
  requestNotFound,
  requestRow,
  type StatusQuery,
  type StoredRow,
} from '../retention-store-input.js';
import {
  bindNamed,
  type NamedStatement,
  namedStatement,
  type SqlBackend,
  type SqlDialect,
  type SqlJsonRows,
} from './sql-dialect.js';
import { insertOrFind, insertOrFindStatements } from './sql-insert-or-find.js';

/** The retention store's table of erasure requests (before the backend's prefix and schema). */
export const ERASURE_REQUEST_TABLE = 'erasure_requests';
/** The table of each request's locations. */
export const ERASURE_LOCATION_TABLE = 'erasure_locations';
/** The table of legal holds. */
export const LEGAL_HOLD_TABLE = 'legal_holds';
/** The ledger of erased subjects. */
export const ERASURE_LEDGER_TABLE = 'erasure_ledger';

/** The statuses of open requests, as an SQL list (the partial indexes' predicate). */
const OPEN = "status IN ('resolving', 'pending', 'running')";

/** How one engine spells the retention tables' columns, for {@link retentionTables}. */
export interface RetentionColumnTypes {
  /** The id's type: text compared byte by byte, so ids order as ULIDs do. */
  readonly id: string;
  /** The text type. */
  readonly text: string;
  /** The 64-bit integer type. */
  readonly integer: string;
}

/**
 * The retention tables and their indexes (named by `index(suffix)`) as DDL statements. `table`
 * names a table from its unprefixed name.
 *
 * Requests: one open request per subject and scope (a partial unique index, which
 * `createRequest`'s insert-or-find relies on); requests by status and id, by status and end of
 * grace period, open requests by deadline, requests by subject. Locations keyed by request and
 * name. Active holds by subject and by data type. The ledger keyed by request id.
 */
export function retentionTables(
  table: (name: string) => string,
  index: (suffix: string) => string,
  types: RetentionColumnTypes,
): string[] {
  const { text, integer, id } = types;
  const requests = table(ERASURE_REQUEST_TABLE);
  const holds = table(LEGAL_HOLD_TABLE);
  return [
    `CREATE TABLE ${requests} (
       id ${id} PRIMARY KEY,
       subject ${text} NOT NULL,
       scope ${text} NOT NULL,
       source ${text} NOT NULL,
       reason ${text},
       actor ${text},
       status ${text} NOT NULL CHECK (status IN
         ('resolving', 'pending', 'running', 'completed', 'partial', 'cancelled')),
       received_at ${integer} NOT NULL,
       erase_after ${integer} NOT NULL,
       due_at ${integer} NOT NULL,
       extensions ${text},
       finished_at ${integer},
       version ${integer} NOT NULL
     )`,
    `CREATE UNIQUE INDEX ${index('requests_open')} ON ${requests} (subject, scope) WHERE ${OPEN}`,
    `CREATE INDEX ${index('requests_status')} ON ${requests} (status, id)`,
    `CREATE INDEX ${index('requests_erase')} ON ${requests} (status, erase_after)`,
    `CREATE INDEX ${index('requests_due')} ON ${requests} (due_at, id) WHERE ${OPEN}`,
    `CREATE INDEX ${index('requests_subject')} ON ${requests} (subject, id)`,
    `CREATE TABLE ${table(ERASURE_LOCATION_TABLE)} (
       request_id ${id} NOT NULL,
       location ${id} NOT NULL,
       status ${text} NOT NULL CHECK (status IN ('pending', 'started', 'failed', 'done')),
       identifiers ${text},
       receipt ${text},
       error ${text},
       added_at ${integer} NOT NULL,
       settled_at ${integer},
       PRIMARY KEY (request_id, location)
     )`,
    `CREATE TABLE ${holds} (
       id ${id} PRIMARY KEY,
       subject ${text},
       data_type ${text},
       reason ${text} NOT NULL,
       owner ${text} NOT NULL,
       placed_at ${integer} NOT NULL,
       released_at ${integer},
       release_reason ${text}
     )`,
    `CREATE INDEX ${index('holds_subject')} ON ${holds} (subject, id)
       WHERE released_at IS NULL AND subject IS NOT NULL`,
    `CREATE INDEX ${index('holds_type')} ON ${holds} (data_type, id)
       WHERE released_at IS NULL AND data_type IS NOT NULL`,
    `CREATE TABLE ${table(ERASURE_LEDGER_TABLE)} (
       request_id ${id} PRIMARY KEY,
       subject ${text} NOT NULL,
       scope ${text} NOT NULL,
       erased_at ${integer} NOT NULL
     )`,
  ];
}

/**
 * How one engine spells what the retention statements need beyond {@link SqlDialect}: its
 * clock, lists passed as one JSON parameter, and whether an `INSERT` runs inside `WITH`.
 */
export interface RetentionSqlDialect<B extends SqlBackend> extends SqlJsonRows {
  /** The shared spelling (placeholders). */
  readonly sql: SqlDialect<B>;
  /** The store's migrations. */
  readonly migrations: MigrationSet<B>;
  /** The engine's clock in epoch milliseconds, as an SQL expression. */
  readonly now: string;
  /** The engine runs an `INSERT` inside `WITH`, so an insert-or-find is one statement. */
  readonly writableCte: boolean;
}

/**
 * Opens the retention store shared by the SQL backends, after checking the factory's
 * `{ backend, ownsBackend }` options against the dialect.
 *
 * @throws TypeError naming the option when an option is invalid.
 */
export function createSqlRetentionStore<B extends SqlBackend>(
  dialect: RetentionSqlDialect<B>,
  options: { readonly backend: B; readonly ownsBackend?: boolean },
): SqlRetentionStore<B> {
  const { backend, ownsBackend } = assertStoreOptions(
    options,
    dialect.sql.kind,
    dialect.sql.label,
    dialect.sql.backendFactory,
  );
  return new SqlRetentionStore(dialect, backend, ownsBackend);
}

/**
 * The retention store over any {@link SqlBackend}. Every operation is one statement, but for an
 * insert-or-find on engines without data-modifying `WITH` (an insert, then a read), and for the
 * second read that tells a refused write from a missing row (`settleLocation`, `markLocation`,
 * an `addLocations` that added nothing).
 */
export class SqlRetentionStore<B extends SqlBackend> implements RetentionStore<B> {
  readonly kind: B['kind'];
  readonly backend: B;
  readonly #dialect: RetentionSqlDialect<B>;
  readonly #ownsBackend: boolean;
  readonly #sql: RetentionStatements;

  constructor(
    dialect: RetentionSqlDialect<B>,
    backend: B,
    ownsBackend: boolean,
    sql?: RetentionStatements,
  ) {
    this.kind = dialect.sql.kind;
    this.backend = backend;
    this.#dialect = dialect;
    this.#ownsBackend = ownsBackend;
    this.#sql = sql ?? statements(dialect, backend);
  }

  withBackend(backend: B): SqlRetentionStore<B> {
    if (backend?.kind !== this.kind) {
      throw new TypeError(`backend must be a ${this.#dialect.sql.label} backend`);
    }
    // Statements depend only on the tables' names; a transaction's backend names the same ones.
    const same = backend.table(ERASURE_REQUEST_TABLE) === this.#sql.table;
    return new SqlRetentionStore(this.#dialect, backend, false, same ? this.#sql : undefined);
  }

  migrate(): Promise<MigrationReport> {
    return this.backend.migrate(this.#dialect.migrations);
  }

  /** The engine's clock, which every stored time is read from. */
  async now(): Promise<Date> {
    const [row] = await this.backend.query<{ now: string | number }>(this.#sql.now);
    return new Date(Number(row?.now));
  }

  async createRequest(input: NewErasureRequest): Promise<CreatedErasureRequest> {
    const request = checkNewRequest(input);
    const { row, created } = await insertOrFind<StoredRow>(
      this.backend,
      this.#sql.createRequest,
      { ...request },
      'erasure request',
    );
    return { row: requestRow(row, this.kind), created };
  }

  async getRequest(id: string): Promise<ErasureRequestRow | undefined> {
    checkKey(id, 'id');
    const [row] = await this.#requests(this.#sql.getRequest, { id });
    return row;
  }

  async updateRequest(
    id: string,
    expectedVersion: number,
    input: ErasureRequestPatch,
  ): Promise<ErasureRequestRow | undefined> {
    const patch = checkUpdate(id, expectedVersion, input);
    const { status } = patch;
    const [row] = await this.#requests(this.#sql.updateRequest, {
      id,
      expectedVersion,
      status,
      eraseAfter: patch.eraseAfter,
      dueAt: patch.dueAt,
      setExtensions: patch.extensions === undefined ? 0 : 1,
      extensions: patch.extensions,
      // 1: a final status (finished now); 0: an open one (not finished); null: status unchanged.
      final: status === undefined ? null : isFinalStatus(status) ? 1 : 0,
    });
    return row;
  }

  async requestsByStatus(input: StatusQuery): Promise<readonly ErasureRequestRow[]> {
    const query = checkStatusQuery(input);
    const statement = query.eraseBy === undefined ? this.#sql.byStatus : this.#sql.byStatusErasable;
    return this.#requests(statement, {
      ...query,
      statuses: JSON.stringify(query.statuses.map((status) => [status])),
      afterId: query.afterId ?? '',
    });
  }

  async requestsOfSubject(subject: string, limit: number): Promise<readonly ErasureRequestRow[]> {
    checkSubjectRead(subject, limit);
    return this.#requests(this.#sql.ofSubject, { subject, limit });
  }

  async requestsDueBefore(input: DeadlineQuery): Promise<readonly ErasureRequestRow[]> {
    const query = checkDeadlineQuery(input);
    const { after } = query;
    return after === undefined
      ? this.#requests(this.#sql.dueBefore, { ...query })
      : this.#requests(this.#sql.dueBeforeAfter, { ...query, dueAt: after.dueAt, id: after.id });
  }

  async addLocations(
    requestId: string,
    input: readonly { readonly location: string; readonly identifiers: string | null }[],
  ): Promise<number> {
    const locations = checkAddLocations(requestId, input);
    if (locations.length === 0) return 0;
    const { addLocations } = this.#sql;
    const rows = JSON.stringify(locations.map((l) => [l.location, l.identifiers]));
    const added = await this.backend.execute(
      addLocations.sql,
      bindNamed(addLocations, { requestId, rows }),
    );
    if (added === 0 && (await this.getRequest(requestId)) === undefined) {
      throw requestNotFound(requestId);
    }
    return added;
  }

  async locations(requestId: string): Promise<readonly ErasureLocationRow[]> {
    checkKey(requestId, 'requestId');
    return this.#locations(this.#sql.locations, { requestId });
  }

  async markLocation(
    requestId: string,
    location: string,
    status: 'started' | 'failed',
    error?: string | null,
  ): Promise<ErasureLocationRow | undefined> {
    checkMark(requestId, location, status, error);
    const [marked] = await this.#locations(this.#sql.markLocation, {
      requestId,
      location,
      status,
      error: status === 'failed' ? error : null,
    });
    if (marked !== undefined) return marked;
    // Done already (left as it is), or no such location.
    const [row] = await this.#locations(this.#sql.location, { requestId, location });
    return row;
  }

  async settleLocation(
    requestId: string,
    location: string,
    receipt: string,
  ): Promise<SettledLocation> {
    checkSettle(requestId, location, receipt);
    const values = { requestId, location, receipt };
    // The UPDATE re-reads a row another settle changed meanwhile, so only one of them writes;
    // the read after it is a new statement, which sees the winner's receipt.
    const [settled] = await this.#locations(this.#sql.settleLocation, values);
    if (settled !== undefined) return { row: settled, settled: true };
    const [row] = await this.#locations(this.#sql.location, values);
    if (row === undefined) throw requestNotFound(requestId, location);
    return { row, settled: false };
  }

  async clearIdentifiers(requestId: string): Promise<number> {
    checkKey(requestId, 'requestId');
    const { clearIdentifiers } = this.#sql;
    return this.backend.execute(clearIdentifiers.sql, bindNamed(clearIdentifiers, { requestId }));
  }

  async placeHold(input: NewLegalHold): Promise<LegalHoldRow> {
    const hold = checkNewHold(input);
    const { row } = await insertOrFind<StoredRow>(
      this.backend,
      this.#sql.placeHold,
      { ...hold },
      'legal hold',
    );
    return holdRow(row, this.kind);
  }

  async releaseHold(id: string, reason: string): Promise<LegalHoldRow | undefined> {
    checkRelease(id, reason);
    const [row] = await this.#holds(this.#sql.releaseHold, { id, reason });
    return row;
  }

  async getHold(id: string): Promise<LegalHoldRow | undefined> {
    checkKey(id, 'id');
    const [row] = await this.#holds(this.#sql.getHold, { id });
    return row;
  }

  async activeHolds(
    input: HoldLookup,
    limit: number = DEFAULT_HOLD_LIMIT,
  ): Promise<readonly LegalHoldRow[]> {
    const { subject, dataTypes } = checkHoldLookup(input, limit);
    if (dataTypes !== undefined && dataTypes.length === 0 && subject === undefined) return [];
    const { activeHolds } = this.#sql;
    const statement =
      subject === undefined
        ? dataTypes === undefined
          ? activeHolds.all
          : activeHolds.ofTypes
        : dataTypes === undefined
          ? activeHolds.ofSubject
          : activeHolds.ofBoth;
    return this.#holds(statement, {
      subject,
      types: JSON.stringify((dataTypes ?? []).map((type) => [type])),
      limit,
    });
  }

  async listHolds(input: HoldListQuery): Promise<readonly LegalHoldRow[]> {
    const query = checkHoldList(input);
    return this.#holds(this.#sql.listHolds, {
      activeOnly: query.activeOnly === true ? 1 : 0,
      afterId: query.afterId ?? '',
      limit: query.limit,
    });
  }

  async appendLedger(input: Omit<ErasureLedgerEntry, 'erasedAt'>): Promise<ErasureLedgerEntry> {
    const entry = checkLedgerEntry(input);
    const { row } = await insertOrFind<StoredRow>(
      this.backend,
      this.#sql.appendLedger,
      { ...entry },
      'ledger entry',
    );
    return ledgerEntry(row, this.kind);
  }

  async ledger(input: {
    readonly afterRequestId?: string;
    readonly limit: number;
  }): Promise<readonly ErasureLedgerEntry[]> {
    const query = checkLedgerQuery(input);
    const { ledger } = this.#sql;
    const rows = await this.backend.query<StoredRow>(
      ledger.sql,
      bindNamed(ledger, { afterRequestId: query.afterRequestId ?? '', limit: query.limit }),
    );
    return rows.map((row) => ledgerEntry(row, this.kind));
  }

  async close(): Promise<void> {
    if (this.#ownsBackend) await this.backend.close();
  }

  async #rows(statement: NamedStatement, values: Readonly<Record<string, unknown>>) {
    return this.backend.query<StoredRow>(statement.sql, bindNamed(statement, values));
  }

  async #requests(statement: NamedStatement, values: Readonly<Record<string, unknown>>) {
    return (await this.#rows(statement, values)).map((row) => requestRow(row, this.kind));
  }

  async #locations(statement: NamedStatement, values: Readonly<Record<string, unknown>>) {
    return (await this.#rows(statement, values)).map((row) => locationRow(row, this.kind));
  }

  async #holds(statement: NamedStatement, values: Readonly<Record<string, unknown>>) {
    return (await this.#rows(statement, values)).map((row) => holdRow(row, this.kind));
  }
}

type RetentionStatements = ReturnType<typeof statements>;

function statements<B extends SqlBackend>(dialect: RetentionSqlDialect<B>, backend: B) {
  const requests = backend.table(ERASURE_REQUEST_TABLE);
  const locations = backend.table(ERASURE_LOCATION_TABLE);
  const holds = backend.table(LEGAL_HOLD_TABLE);
  const ledger = backend.table(ERASURE_LEDGER_TABLE);
  const { now, field } = dialect;
  type Build = Parameters<typeof namedStatement>[1];
  const statement = (build: Build) => namedStatement(dialect.sql, build);
  /** The texts of a JSON array of one-element arrays, as a subquery. */
  const list = (placeholder: string) =>
    `SELECT ${field(0, 'text')} FROM ${dialect.rows(placeholder)}`;
  const requestColumns =
    'id, subject, scope, source, reason, actor, status, received_at, erase_after, due_at, extensions, finished_at, version';
  const locationColumns =
    'request_id, location, status, identifiers, receipt, error, added_at, settled_at';
  const holdColumns =
    'id, subject, data_type, reason, owner, placed_at, released_at, release_reason';
  const ledgerColumns = 'request_id, subject, scope, erased_at';
  const byStatus = (erasable: boolean) =>
    statement(
      ($) => `SELECT ${requestColumns} FROM ${requests}
       WHERE status IN (${list($('statuses'))})
         ${erasable ? `AND erase_after <= ${$('eraseBy')}` : ''}
         AND id > ${$('afterId')}
       ORDER BY id LIMIT ${$('limit')}`,
    );
  const dueBefore = (after: boolean) =>
    statement(
      ($) => `SELECT ${requestColumns} FROM ${requests}
       WHERE ${OPEN} AND due_at < ${$('dueBefore')}
         ${after ? `AND (due_at, id) > (${$('dueAt')}, ${$('id')})` : ''}
       ORDER BY due_at, id LIMIT ${$('limit')}`,
    );
  const active = (where: Build) =>
    statement(
      ($) => `SELECT ${holdColumns} FROM ${holds}
       WHERE released_at IS NULL AND (${where($)})
       ORDER BY id LIMIT ${$('limit')}`,
    );
  const findLocation: Build = ($) =>
    `SELECT ${locationColumns} FROM ${locations}
     WHERE request_id = ${$('requestId')} AND location = ${$('location')}`;
  return {
    table: requests,
    now: `SELECT ${now} AS now`,
    // No conflict target: a taken id (a retried create) and an open request of the subject and
    // scope (a racing create, the partial unique index) both find the stored row.
    createRequest: insertOrFindStatements(dialect.sql, dialect.writableCte, {
      // The clock is read once, so the grace period and deadline count from `received_at`.
      insert: ($) => `INSERT INTO ${requests} (${requestColumns})
        SELECT ${$('id')}, ${$('subject')}, ${$('scope')}, ${$('source')}, ${$('reason')},
               ${$('actor')}, 'resolving', clock.now, clock.now + ${$('graceMs')},
               clock.now + ${$('dueInMs')}, NULL, NULL, 1
          FROM (SELECT ${now} AS now) AS clock WHERE 1 = 1
        ON CONFLICT DO NOTHING`,
      find: ($) => `SELECT ${requestColumns} FROM ${requests}
         WHERE id = ${$('id')}
            OR (subject = ${$('subject')} AND scope = ${$('scope')} AND ${OPEN})
         ORDER BY CASE WHEN id = ${$('id')} THEN 0 ELSE 1 END LIMIT 1`,
      columns: requestColumns,
    }),
    getRequest: statement(($) => `SELECT ${requestColumns} FROM ${requests} WHERE id = ${$('id')}`),
    updateRequest: statement(
      ($) => `UPDATE ${requests}
       SET status = COALESCE(${$('status')}, status),
           erase_after = COALESCE(${$('eraseAfter')}, erase_after),
           due_at = COALESCE(${$('dueAt')}, due_at),
           extensions = CASE WHEN ${$('setExtensions')} = 1 THEN ${$('extensions')}
                        ELSE extensions END,
           finished_at = CASE WHEN ${$('final')} = 1 THEN ${now}
                         WHEN ${$('final')} = 0 THEN NULL ELSE finished_at END,
           version = version + 1
       WHERE id = ${$('id')} AND version = ${$('expectedVersion')}
       RETURNING ${requestColumns}`,
    ),
    byStatus: byStatus(false),
    byStatusErasable: byStatus(true),
    ofSubject: statement(
      ($) => `SELECT ${requestColumns} FROM ${requests}
       WHERE subject = ${$('subject')} ORDER BY id DESC LIMIT ${$('limit')}`,
    ),
    dueBefore: dueBefore(false),
    dueBeforeAfter: dueBefore(true),
    // Nothing is added to a request that does not exist; a location it has is left as it is.
    addLocations: statement(
      ($) => `WITH clock AS (SELECT ${now} AS now)
      INSERT INTO ${locations} (request_id, location, status, identifiers, added_at)
      SELECT ${$('requestId')}, ${field(0, 'text')}, 'pending', ${field(1, 'text')}, clock.now
        FROM ${dialect.rows($('rows'))}, clock
       WHERE EXISTS (SELECT 1 FROM ${requests} WHERE id = ${$('requestId')})
       ORDER BY ${dialect.rowOrder}
      ON CONFLICT (request_id, location) DO NOTHING`,
    ),
    locations: statement(
      ($) => `SELECT ${locationColumns} FROM ${locations}
       WHERE request_id = ${$('requestId')} ORDER BY location`,
    ),
    location: statement(findLocation),
    markLocation: statement(
      ($) => `UPDATE ${locations} SET status = ${$('status')}, error = ${$('error')}
       WHERE request_id = ${$('requestId')} AND location = ${$('location')} AND status <> 'done'
       RETURNING ${locationColumns}`,
    ),
    settleLocation: statement(
      ($) => `UPDATE ${locations}
       SET status = 'done', receipt = ${$('receipt')}, settled_at = ${now}, error = NULL
       WHERE request_id = ${$('requestId')} AND location = ${$('location')}
         AND receipt IS NULL
       RETURNING ${locationColumns}`,
    ),
    clearIdentifiers: statement(
      ($) => `UPDATE ${locations} SET identifiers = NULL
       WHERE request_id = ${$('requestId')} AND identifiers IS NOT NULL`,
    ),
    // A taken id (a retried place) finds the stored hold.
    placeHold: insertOrFindStatements(dialect.sql, dialect.writableCte, {
      insert: ($) => `INSERT INTO ${holds} (id, subject, data_type, reason, owner, placed_at)
        VALUES (${$('id')}, ${$('subject')}, ${$('dataType')}, ${$('reason')}, ${$('owner')},
                ${now})
        ON CONFLICT (id) DO NOTHING`,
      find: ($) => `SELECT ${holdColumns} FROM ${holds} WHERE id = ${$('id')}`,
      columns: holdColumns,
    }),
    // One statement: a released hold keeps its first release.
    releaseHold: statement(
      ($) => `UPDATE ${holds}
       SET release_reason = CASE WHEN released_at IS NULL THEN ${$('reason')}
                            ELSE release_reason END,
           released_at = COALESCE(released_at, ${now})
       WHERE id = ${$('id')} RETURNING ${holdColumns}`,
    ),
    getHold: statement(($) => `SELECT ${holdColumns} FROM ${holds} WHERE id = ${$('id')}`),
    /** One statement per shape of lookup, each over the partial indexes of active holds. */
    activeHolds: {
      all: active(() => '1 = 1'),
      ofSubject: active(($) => `subject = ${$('subject')}`),
      ofTypes: active(($) => `data_type IN (${list($('types'))})`),
      ofBoth: active(
        ($) => `(subject = ${$('subject')}
                 AND (data_type IS NULL OR data_type IN (${list($('types'))})))
             OR (data_type IN (${list($('types'))})
                 AND (subject IS NULL OR subject = ${$('subject')}))`,
      ),
    },
    listHolds: statement(
      ($) => `SELECT ${holdColumns} FROM ${holds}
       WHERE (${$('activeOnly')} = 0 OR released_at IS NULL) AND id > ${$('afterId')}
       ORDER BY id LIMIT ${$('limit')}`,
    ),
    appendLedger: insertOrFindStatements(dialect.sql, dialect.writableCte, {
      insert: ($) => `INSERT INTO ${ledger} (${ledgerColumns})
        VALUES (${$('requestId')}, ${$('subject')}, ${$('scope')}, ${now})
        ON CONFLICT (request_id) DO NOTHING`,
      find: ($) => `SELECT ${ledgerColumns} FROM ${ledger} WHERE request_id = ${$('requestId')}`,
      columns: ledgerColumns,
    }),
    ledger: statement(
      ($) => `SELECT ${ledgerColumns} FROM ${ledger}
       WHERE request_id > ${$('afterRequestId')} ORDER BY request_id LIMIT ${$('limit')}`,
    ),
  };
}
