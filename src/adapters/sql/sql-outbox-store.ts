import type { ErrorRecord } from '../../core/error-record.js';
import { isFlowproofError } from '../../core/errors.js';
import { assertStoreOptions } from '../../core/options.js';
import type { MigrationReport, MigrationSet } from '../../core/storage-backend.js';
import {
  type NewOutboxMessage,
  OUTBOX_STORE_COMPONENT,
  type OutboxClaimRequest,
  type OutboxDeadLetter,
  type OutboxListQuery,
  type OutboxMessageStatus,
  type OutboxPurgeRequest,
  type OutboxRedriveRequest,
  type OutboxRetry,
  type OutboxStore,
  type OutboxStoreStats,
  type OutboxTopicCounts,
  type StoredOutboxMessage,
} from '../../outbox/outbox-store.js';
import {
  checkClaim,
  checkDeadLetters,
  checkIds,
  checkList,
  checkNewMessages,
  checkPurge,
  checkRedrive,
  checkRetries,
  messageExists,
} from '../outbox-store-input.js';
import { parseStoredJson } from '../store-data-corrupt.js';
import type { SqlBackend, SqlDialect, SqlJsonRows } from './sql-dialect.js';

/** The outbox store's table (before the backend's prefix and schema). */
export const OUTBOX_MESSAGES_TABLE = 'outbox_messages';

/**
 * The indexes of the outbox table `table`, named by `index(suffix)`: the claim scan (pending by
 * position), the per-key look back, the purge (finished by time) and `list` of finished messages
 * (status, id). The last one leaves pending rows out: an enqueue, inside the application's
 * transaction, writes one index entry fewer, and SQLite, finding no other index on `status` for
 * pending rows, claims through the one on position, in order, instead of sorting every pending
 * row. Listing pending messages reads the pending index and sorts.
 */
export function outboxIndexes(table: string, index: (suffix: string) => string): string[] {
  return [
    `CREATE INDEX ${index('pending')} ON ${table} (position) WHERE status = 'pending'`,
    `CREATE INDEX ${index('key')} ON ${table} (msg_key, position) WHERE status = 'pending'`,
    `CREATE INDEX ${index('finished')} ON ${table} (finished_at) WHERE status <> 'pending'`,
    `CREATE INDEX ${index('status')} ON ${table} (status, id) WHERE status <> 'pending'`,
  ];
}

/**
 * How one engine spells what the outbox statements need beyond {@link SqlDialect}: its clock,
 * rows passed as one JSON parameter (an array of arrays), the claim's commit-safety gate and
 * serialisation, and the unique violation of an id.
 */
export interface OutboxSqlDialect<B extends SqlBackend> extends SqlJsonRows {
  /** The shared spelling (placeholders, JSON read back as text). */
  readonly sql: SqlDialect<B>;
  /** The store's migrations. */
  readonly migrations: MigrationSet<B>;
  /** The engine's clock in epoch milliseconds, as an SQL expression. */
  readonly now: string;
  /**
   * `column` is one of the ids `subquery` selects. PostgreSQL: `= ANY(ARRAY(…))`, which the
   * planner answers from the unique id index however few rows it expects; as a join with the
   * id list it may pick a nested loop over the whole table for each id.
   */
  idIn(column: string, subquery: string): string;
  /**
   * Appended to a candidate's conditions, with `row` the candidate's alias: only rows no running
   * transaction can still put a row before (empty where commits follow positions).
   */
  gate(row: string): string;
  /** Appended to a purge's row selection (`FOR UPDATE SKIP LOCKED`), or empty. */
  readonly purgeLock: string;
  /**
   * Runs `claim` so claims never run concurrently (one statement already is on SQLite; a
   * transaction holding an advisory lock on PostgreSQL).
   */
  serialize<T>(backend: B, table: string, claim: (backend: B) => Promise<T>): Promise<T>;
  /**
   * When `error` is the violation of the id's uniqueness: the id named by the engine, `''` when it
   * does not name it; `undefined` for any other error.
   */
  duplicateId(error: unknown): string | undefined;
}

/**
 * Opens the outbox store shared by the SQL backends, after checking the factory's
 * `{ backend, ownsBackend }` options against the dialect.
 *
 * @throws TypeError naming the option when an option is invalid.
 */
export function createSqlOutboxStore<B extends SqlBackend>(
  dialect: OutboxSqlDialect<B>,
  options: { readonly backend: B; readonly ownsBackend?: boolean },
): SqlOutboxStore<B> {
  const { backend, ownsBackend } = assertStoreOptions(
    options,
    dialect.sql.kind,
    dialect.sql.label,
    dialect.sql.backendFactory,
  );
  return new SqlOutboxStore(dialect, backend, ownsBackend);
}

/**
 * The outbox store over any {@link SqlBackend}. Every operation is one statement; a claim on
 * PostgreSQL adds the advisory lock that serialises claims, in one transaction with it.
 */
export class SqlOutboxStore<B extends SqlBackend> implements OutboxStore<B> {
  readonly kind: B['kind'];
  readonly backend: B;
  readonly #dialect: OutboxSqlDialect<B>;
  readonly #ownsBackend: boolean;
  readonly #sql: OutboxStatements;

  constructor(
    dialect: OutboxSqlDialect<B>,
    backend: B,
    ownsBackend: boolean,
    sql?: OutboxStatements,
  ) {
    this.kind = dialect.sql.kind;
    this.backend = backend;
    this.#dialect = dialect;
    this.#ownsBackend = ownsBackend;
    this.#sql = sql ?? statements(dialect, backend.table(OUTBOX_MESSAGES_TABLE));
  }

  withBackend(backend: B): SqlOutboxStore<B> {
    if (backend?.kind !== this.kind) {
      throw new TypeError(`backend must be a ${this.#dialect.sql.label} backend`);
    }
    // Statements depend only on the table name; a transaction's backend names the same table.
    const sql = backend.table(OUTBOX_MESSAGES_TABLE) === this.#sql.table ? this.#sql : undefined;
    return new SqlOutboxStore(this.#dialect, backend, false, sql);
  }

  migrate(): Promise<MigrationReport> {
    return this.backend.migrate(this.#dialect.migrations);
  }

  /** The engine's clock, which every time the store writes is read from. */
  async now(): Promise<Date> {
    const [row] = await this.backend.query<{ now: string | number }>(this.#sql.now);
    return new Date(Number(row?.now));
  }

  async enqueue(messages: readonly NewOutboxMessage[]): Promise<void> {
    const encoded = checkNewMessages(messages);
    if (encoded.length === 0) return;
    const rows = JSON.stringify(encoded.map((m) => [m.id, m.topic, m.key, m.payload, m.headers]));
    try {
      await this.#execute(this.#sql.enqueue, { rows });
    } catch (error) {
      const named = this.#dialect.duplicateId(error);
      if (named === undefined) throw error;
      throw messageExists(named || (await this.#firstStored(encoded)) || '', error);
    }
  }

  async claim(request: OutboxClaimRequest): Promise<readonly StoredOutboxMessage[]> {
    checkClaim(request);
    if (request.limit === 0) return [];
    const rows = await this.#dialect.serialize(this.backend, this.#sql.table, (backend) =>
      backend.query<MessageRow>(this.#sql.claim.sql, bind(this.#sql.claim.names, request)),
    );
    // RETURNING keeps no order: position order, as selected.
    rows.sort((a, b) => Number(a.position) - Number(b.position));
    return rows.map((row) => this.#toMessage(row));
  }

  async markPublished(ids: readonly string[], owner: string): Promise<number> {
    checkIds(ids, owner);
    if (ids.length === 0) return 0;
    return this.#execute(this.#sql.markPublished, {
      rows: JSON.stringify(ids.map((id) => [id])),
      owner,
    });
  }

  async reschedule(retries: readonly OutboxRetry[], owner: string): Promise<number> {
    // One entry per id (the last wins), so a row joins one retry.
    const byId = new Map(checkRetries(retries, owner).map((retry) => [retry.id, retry]));
    if (byId.size === 0) return 0;
    const rows = [...byId.values()].map((r) => [
      r.id,
      r.retryInMs,
      r.countAttempt ? 1 : 0,
      r.error,
    ]);
    return this.#execute(this.#sql.reschedule, { rows: JSON.stringify(rows), owner });
  }

  async deadLetter(entries: readonly OutboxDeadLetter[], owner: string): Promise<number> {
    const byId = new Map(checkDeadLetters(entries, owner).map((entry) => [entry.id, entry]));
    if (byId.size === 0) return 0;
    const rows = [...byId.values()].map((entry) => [entry.id, entry.error]);
    return this.#execute(this.#sql.deadLetter, { rows: JSON.stringify(rows), owner });
  }

  async get(id: string): Promise<StoredOutboxMessage | undefined> {
    const [row] = await this.#query(this.#sql.get, { id });
    return row === undefined ? undefined : this.#toMessage(row);
  }

  async list(query: OutboxListQuery): Promise<readonly StoredOutboxMessage[]> {
    checkList(query);
    const statement = query.status === 'pending' ? this.#sql.listPending : this.#sql.listFinished;
    const rows = await this.#query(statement, {
      status: query.status,
      topic: query.topic ?? null,
      afterId: query.afterId ?? null,
      limit: query.limit,
    });
    return rows.map((row) => this.#toMessage(row));
  }

  async redrive(request: OutboxRedriveRequest): Promise<readonly string[]> {
    checkRedrive(request);
    const { ids, topic, limit } = request;
    if (limit === 0 || ids?.length === 0) return [];
    const rows =
      ids === undefined
        ? await this.#query(this.#sql.redriveTopic, { topic: topic ?? null, limit })
        : await this.#query(this.#sql.redriveIds, {
            rows: JSON.stringify(ids.map((id) => [id])),
            limit,
          });
    rows.sort((a, b) => Number(a.position) - Number(b.position));
    return rows.map((row) => row.id);
  }

  async purge(request: OutboxPurgeRequest): Promise<number> {
    checkPurge(request);
    if (request.limit === 0) return 0;
    return this.#execute(this.#sql.purge, request);
  }

  async stats(): Promise<OutboxStoreStats> {
    const rows = await this.backend.query<StatsRow>(this.#sql.stats);
    const topics: Record<string, OutboxTopicCounts> = {};
    let oldestPendingAt: number | null = null;
    for (const row of rows) {
      if (row.topic === null || row.status === null) continue;
      const counts = topics[row.topic] ?? { pending: 0, published: 0, deadLettered: 0 };
      const n = Number(row.n);
      topics[row.topic] = {
        pending: counts.pending + (row.status === 'pending' ? n : 0),
        published: counts.published + (row.status === 'published' ? n : 0),
        deadLettered: counts.deadLettered + (row.status === 'dead_lettered' ? n : 0),
      };
      if (row.status === 'pending' && row.oldest !== null) {
        const oldest = Number(row.oldest);
        if (oldestPendingAt === null || oldest < oldestPendingAt) oldestPendingAt = oldest;
      }
    }
    return { now: Number(rows[0]?.now), oldestPendingAt, topics };
  }

  async close(): Promise<void> {
    if (this.#ownsBackend) await this.backend.close();
  }

  /** The first of `messages` stored already, to name in `OUTBOX_MESSAGE_EXISTS`. */
  async #firstStored(messages: readonly { readonly id: string }[]): Promise<string | undefined> {
    try {
      const rows = await this.#query(this.#sql.stored, {
        rows: JSON.stringify(messages.map((m) => [m.id])),
      });
      return rows[0]?.id;
    } catch {
      // The connection's transaction may refuse statements after the violation: name none.
      return undefined;
    }
  }

  #query(statement: Statement, values: Readonly<Record<string, unknown>>): Promise<MessageRow[]> {
    return this.backend.query<MessageRow>(statement.sql, bind(statement.names, values));
  }

  #execute(statement: Statement, values: object): Promise<number> {
    return this.backend.execute(
      statement.sql,
      bind(statement.names, values as Record<string, unknown>),
    );
  }

  #toMessage(row: MessageRow): StoredOutboxMessage {
    const where = { backend: this.kind, component: OUTBOX_STORE_COMPONENT, id: row.id };
    const headers = parseStoredJson(row.headers, { ...where, field: 'headers' });
    const lastError =
      row.last_error === null
        ? null
        : parseStoredJson(row.last_error, { ...where, field: 'last_error' });
    return {
      id: row.id,
      topic: row.topic,
      key: row.msg_key,
      payload: parseStoredJson(row.payload, { ...where, field: 'payload' }),
      headers: headers as Record<string, string>,
      status: row.status,
      attempts: Number(row.attempts),
      availableAt: Number(row.available_at),
      lastError: lastError as ErrorRecord | null,
      createdAt: Number(row.created_at),
      finishedAt: row.finished_at === null ? null : Number(row.finished_at),
    };
  }
}

/** The driver's error a flowproof backend error wraps (its `cause`), when it is an object. */
export function driverCause(error: unknown): { code?: unknown; detail?: unknown } | undefined {
  return isFlowproofError(error) && typeof error.cause === 'object' && error.cause !== null
    ? (error.cause as { code?: unknown; detail?: unknown })
    : undefined;
}

/** A message row as the statements return it (bigint columns may arrive as strings). */
interface MessageRow {
  position: number | string;
  id: string;
  topic: string;
  msg_key: string | null;
  payload: string;
  headers: string;
  status: OutboxMessageStatus;
  attempts: number | string;
  available_at: number | string;
  last_error: string | null;
  created_at: number | string;
  finished_at: number | string | null;
}

/** One group of the stats statement; all null but `now` when the table is empty. */
interface StatsRow {
  now: number | string;
  topic: string | null;
  status: OutboxMessageStatus | null;
  n: number | string | null;
  oldest: number | string | null;
}

/** A statement and the names of the values its placeholders take, in placeholder order. */
interface Statement {
  readonly sql: string;
  readonly names: readonly string[];
}

function bind(names: readonly string[], values: object): unknown[] {
  return names.map((name) => (values as Record<string, unknown>)[name] ?? null);
}

type OutboxStatements = ReturnType<typeof statements>;

function statements<B extends SqlBackend>(dialect: OutboxSqlDialect<B>, table: string) {
  /**
   * Builds one statement: `$(name)` is a placeholder for the value `name`. Every use is its own
   * placeholder, so SQLite's positional `?` and PostgreSQL's `$n` bind the same way.
   */
  const statement = (build: (p: (name: string, type?: 'text' | 'jsonb') => string) => string) => {
    const names: string[] = [];
    const sql = build((name, type) => {
      names.push(name);
      return dialect.sql.param(names.length, type);
    });
    return { sql, names } satisfies Statement;
  };
  const { field, rowOrder } = dialect;
  // One clock reading per statement, however often it is used.
  const clock = `WITH clock AS (SELECT ${dialect.now} AS now)`;
  const now = '(SELECT now FROM clock)';
  const json = dialect.sql.jsonText;
  const columns = `position, id, topic, msg_key, ${json('payload')}, ${json('headers')}, status, attempts, available_at, ${json('last_error')}, created_at, finished_at`;
  /** Pending and neither waiting for a retry nor held by a live claim, nor gated (alias `row`). */
  const candidate = (row: string) =>
    `${row}.available_at <= ${now} AND (${row}.lease_owner IS NULL OR ${row}.lease_until <= ${now})${dialect.gate(row)}`;
  const endLease = 'lease_owner = NULL, lease_until = 0';
  /**
   * The rows of the JSON parameter `rows` whose first element is the row's id, joined by id:
   * PostgreSQL hashes the list, SQLite reads it once and looks each id up in the unique index.
   * (As `id IN (SELECT …)`, PostgreSQL read the list again for each pending row.)
   */
  const fenced = (
    set: string,
    values: string,
    $: (name: string, type?: 'text' | 'jsonb') => string,
  ) => `${clock}
      UPDATE ${table} AS m SET ${set}
        FROM (SELECT ${values} FROM ${dialect.rows($('rows'))}) AS r
       WHERE m.id = r.id AND m.lease_owner = ${$('owner')} AND m.status = 'pending'`;
  const ids = (name: string, $: (name: string) => string) =>
    `(SELECT ${field(0, 'text')} FROM ${dialect.rows($(name))})`;
  /**
   * `clock`, then the rows `select` picks, materialised: as a plain `IN (SELECT … LIMIT n)` the
   * engine may run the selection again for each row it updates, and change more than `n` rows.
   */
  const list = (status: string, $: (name: string, type?: 'text' | 'jsonb') => string) =>
    `SELECT ${columns} FROM ${table}
       WHERE ${status}
         AND (${$('topic', 'text')} IS NULL OR topic = ${$('topic')})
         AND (${$('afterId', 'text')} IS NULL OR id > ${$('afterId')})
       ORDER BY id
       LIMIT ${$('limit')}`;
  const picked = (select: string) => `${clock}, picked AS MATERIALIZED (${select})`;
  const redrive = (filter: string, $: (name: string) => string) => `${picked(`
         SELECT position FROM ${table}
          WHERE status = 'dead_lettered' AND ${filter}
          ORDER BY position LIMIT ${$('limit')} ${dialect.purgeLock}`)}
      UPDATE ${table}
         SET status = 'pending', attempts = 0, available_at = ${now}, last_error = NULL,
             finished_at = NULL, ${endLease}
       WHERE position IN (SELECT position FROM picked) AND status = 'dead_lettered'
      RETURNING position, id`;

  return {
    table,
    now: `SELECT ${dialect.now} AS now`,
    // One statement for the batch: all or none, even outside a transaction; positions follow the
    // batch's order.
    enqueue: statement(
      ($) => `${clock}
      INSERT INTO ${table} (id, topic, msg_key, payload, headers, status, attempts, available_at,
                            lease_owner, lease_until, last_error, created_at, finished_at)
      SELECT ${field(0, 'text')}, ${field(1, 'text')}, ${field(2, 'text')}, ${field(3, 'json')},
             ${field(4, 'json')}, 'pending', 0, ${now}, NULL, 0, NULL, ${now}, NULL
        FROM ${dialect.rows($('rows'))}
       ORDER BY ${rowOrder}`,
    ),
    stored: statement(
      ($) => `SELECT id FROM ${table} WHERE id IN ${ids('rows', $)} ORDER BY position LIMIT 1`,
    ),
    // A candidate is claimable when no earlier pending row of its key is a non-candidate (waiting
    // for a retry, held by another claim, or gated). The outer conditions are checked again on
    // rows another statement changed meanwhile.
    claim: statement(
      ($) => `${picked(`
         SELECT c.position FROM ${table} AS c
          WHERE c.status = 'pending' AND ${candidate('c')}
            AND (c.msg_key IS NULL OR NOT EXISTS (
              SELECT 1 FROM ${table} AS e
               WHERE e.status = 'pending' AND e.msg_key = c.msg_key AND e.position < c.position
                 AND NOT (${candidate('e')})))
          ORDER BY c.position
          LIMIT ${$('limit')}`)}
      UPDATE ${table}
         SET lease_owner = ${$('owner')}, lease_until = ${now} + ${$('leaseMs')}
       WHERE position IN (SELECT position FROM picked)
         AND status = 'pending' AND (lease_owner IS NULL OR lease_until <= ${now})
      RETURNING ${columns}`,
    ),
    // The hot path of every batch: no join, the ids looked up through the id index.
    markPublished: statement(
      ($) => `${clock}
      UPDATE ${table}
         SET status = 'published', finished_at = ${now}, ${endLease}
       WHERE ${dialect.idIn('id', ids('rows', $))}
         AND lease_owner = ${$('owner')} AND status = 'pending'`,
    ),
    reschedule: statement(($) =>
      fenced(
        `available_at = ${now} + r.retry_in_ms, ${endLease},
         attempts = m.attempts + r.counted,
         last_error = CASE WHEN r.counted = 1 THEN r.error ELSE m.last_error END`,
        `${field(0, 'text')} AS id, ${field(1, 'bigint')} AS retry_in_ms,
         ${field(2, 'bigint')} AS counted, ${field(3, 'json')} AS error`,
        $,
      ),
    ),
    deadLetter: statement(($) =>
      fenced(
        `status = 'dead_lettered', attempts = m.attempts + 1, last_error = r.error,
         finished_at = ${now}, ${endLease}`,
        `${field(0, 'text')} AS id, ${field(1, 'json')} AS error`,
        $,
      ),
    ),
    get: statement(($) => `SELECT ${columns} FROM ${table} WHERE id = ${$('id')}`),
    // Two statements: the (status, id) index holds finished rows only, and an engine uses a
    // partial index only where the statement's own text implies its condition.
    listPending: statement(($) => list(`status = 'pending'`, $)),
    listFinished: statement(($) => list(`status = ${$('status')} AND status <> 'pending'`, $)),
    redriveIds: statement(($) => redrive(`id IN ${ids('rows', $)}`, $)),
    redriveTopic: statement(($) =>
      redrive(`(${$('topic', 'text')} IS NULL OR topic = ${$('topic')})`, $),
    ),
    // Pending rows are never deleted: the status is checked again on the locked rows.
    purge: statement(
      ($) => `${picked(`
        SELECT position FROM ${table}
         WHERE status = ${$('status')} AND finished_at <= ${now} - ${$('finishedBeforeMs')}
         ORDER BY finished_at
         LIMIT ${$('limit')} ${dialect.purgeLock}`)}
      DELETE FROM ${table}
       WHERE position IN (SELECT position FROM picked) AND status <> 'pending'`,
    ),
    stats: `${clock}
      SELECT c.now AS now, g.topic AS topic, g.status AS status, g.n AS n, g.oldest AS oldest
        FROM clock AS c
        LEFT JOIN (SELECT topic, status, count(*) AS n, min(created_at) AS oldest
                     FROM ${table} GROUP BY topic, status) AS g ON 1 = 1`,
  };
}
