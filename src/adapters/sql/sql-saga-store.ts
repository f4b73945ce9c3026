import { FlowproofError } from '../../core/errors.js';
import { assertStoreOptions } from '../../core/options.js';
import type { MigrationReport, MigrationSet, StorageBackend } from '../../core/storage-backend.js';
import {
  ACTIVE_SAGA_STATUSES,
  type ClaimedSaga,
  type ClaimRequest,
  type CreateSagaResult,
  type NewSaga,
  SAGA_STORE_COMPONENT,
  type SagaLease,
  type SagaListQuery,
  type SagaPurgeRequest,
  type SagaStatus,
  type SagaStore,
  type SagaUpdate,
  type StoredSaga,
} from '../../saga/saga-store.js';
import { saveWithWork } from '../saga-save-in-transaction.js';
import {
  checkClaim,
  checkHeartbeat,
  checkList,
  checkNewSaga,
  checkPurge,
  checkUpdate,
} from '../saga-store-input.js';
import { parseStoredJson } from '../store-data-corrupt.js';
import type { SqlBackend, SqlDialect } from './sql-dialect.js';

/** How often `create` tries to insert, or else read, a saga before giving up. */
const CREATE_ATTEMPTS = 3;

/** The saga store's table (before the backend's prefix and schema). */
export const SAGA_RUNS_TABLE = 'saga_runs';

/** The active statuses as an SQL list, for the partial claim index and the statements using it. */
export const ACTIVE_STATUS_LIST = ACTIVE_SAGA_STATUSES.map((s) => `'${s}'`).join(', ');

/**
 * How one engine spells what the saga statements need beyond {@link SqlDialect}: its clock, lists
 * passed as one parameter, and the claim's row locking.
 */
export interface SagaSqlDialect<B extends SqlBackend> {
  /** The shared spelling (placeholders, JSON read back as text). */
  readonly sql: SqlDialect<B>;
  /** The store's migrations. */
  readonly migrations: MigrationSet<B>;
  /** The engine's clock in epoch milliseconds, as an SQL expression. */
  readonly now: string;
  /** The placeholder of the `n`-th parameter when it holds a list of strings. */
  listPlaceholder(n: number): string;
  /** `column` is one of the list parameter `placeholder`'s values. */
  inList(column: string, placeholder: string): string;
  /** A list parameter's value; `null` when there is no list. */
  listParam(values: readonly string[] | undefined): unknown;
  /** Appended to the claim's row selection (`FOR UPDATE SKIP LOCKED`), or empty. */
  readonly claimLock: string;
}

/**
 * Opens the saga store shared by the SQL backends, after checking the factory's
 * `{ backend, ownsBackend }` options against the dialect.
 *
 * @throws TypeError naming the option when an option is invalid.
 */
export function createSqlSagaStore<B extends SqlBackend>(
  dialect: SagaSqlDialect<B>,
  options: { readonly backend: B; readonly ownsBackend?: boolean },
): SqlSagaStore<B> {
  const { backend, ownsBackend } = assertStoreOptions(
    options,
    dialect.sql.kind,
    dialect.sql.label,
    dialect.sql.backendFactory,
  );
  return new SqlSagaStore(dialect, backend, ownsBackend);
}

/**
 * The saga store over any {@link SqlBackend}. Every operation is one statement (one round trip);
 * `create` reads the existing saga with a second one only when the id was taken.
 */
export class SqlSagaStore<B extends SqlBackend> implements SagaStore {
  readonly kind: B['kind'];
  readonly backend: B;
  readonly #dialect: SagaSqlDialect<B>;
  readonly #ownsBackend: boolean;
  readonly #sql: SagaStatements;

  constructor(dialect: SagaSqlDialect<B>, backend: B, ownsBackend: boolean, sql?: SagaStatements) {
    this.kind = dialect.sql.kind;
    this.backend = backend;
    this.#dialect = dialect;
    this.#ownsBackend = ownsBackend;
    this.#sql = sql ?? statements(dialect, backend.table(SAGA_RUNS_TABLE));
  }

  withBackend(backend: B): SqlSagaStore<B> {
    if (backend?.kind !== this.kind) {
      throw new TypeError(`backend must be a ${this.#dialect.sql.label} backend`);
    }
    // Statements depend only on the table name; a transaction's backend names the same table.
    const sql = backend.table(SAGA_RUNS_TABLE) === this.#sql.table ? this.#sql : undefined;
    return new SqlSagaStore(this.#dialect, backend, false, sql);
  }

  migrate(): Promise<MigrationReport> {
    return this.backend.migrate(this.#dialect.migrations);
  }

  /** The engine's clock, which every time the store writes is read from. */
  async now(): Promise<Date> {
    const [row] = await this.backend.query<{ now: string | number }>(this.#sql.now);
    return new Date(Number(row?.now));
  }

  async create(
    saga: NewSaga,
    lease?: { readonly owner: string; readonly leaseMs: number },
  ): Promise<CreateSagaResult> {
    const log = checkNewSaga(saga, lease);
    const values = {
      id: saga.id,
      name: saga.name,
      version: saga.version,
      status: saga.status,
      log,
      owner: lease?.owner,
      leaseMs: lease?.leaseMs,
    };
    const insert = lease ? this.#sql.createLeased : this.#sql.create;
    // The saga that holds the id can be purged between the two statements: insert again then.
    for (let attempt = 1; ; attempt += 1) {
      const [row] = await this.#query(insert, values);
      if (row !== undefined) {
        const stored = this.#toSaga(row);
        return lease
          ? { created: true, saga: stored, lease: { owner: lease.owner, token: 1 } }
          : { created: true, saga: stored };
      }
      const existing = await this.get(saga.id);
      if (existing !== undefined) return { created: false, saga: existing };
      // Neither inserted nor found: a snapshot older than the saga holding the id (a
      // repeatable-read transaction of the caller's) never sees it.
      if (attempt === CREATE_ATTEMPTS) throw createFoundNoSaga(this.kind, saga.id);
    }
  }

  async claim(request: ClaimRequest): Promise<readonly ClaimedSaga[]> {
    checkClaim(request);
    const { owner, leaseMs, limit, statuses, names, ids } = request;
    // Only active statuses asked (the runner's case): the statement naming them uses the partial
    // index of due active sagas.
    const onlyActive = statuses.every((s) => ACTIVE_SAGA_STATUSES.includes(s));
    const rows = await this.#query(onlyActive ? this.#sql.claimActive : this.#sql.claim, {
      owner,
      leaseMs,
      limit,
      statuses: this.#dialect.listParam(statuses),
      names: this.#dialect.listParam(names),
      ids: this.#dialect.listParam(ids),
    });
    // RETURNING keeps no order: oldest due first, as selected.
    rows.sort((a, b) => Number(a.wake_at) - Number(b.wake_at) || (a.id < b.id ? -1 : 1));
    return rows.map((row) => ({
      saga: this.#toSaga(row),
      lease: { owner, token: Number(row.lease_token) },
    }));
  }

  async save(update: SagaUpdate, lease: SagaLease): Promise<boolean> {
    const log = checkUpdate(update, lease);
    const { sql, names } =
      update.lease === 'release' ? this.#sql.saveRelease : this.#sql.saveExtend;
    const values = {
      id: update.id,
      owner: lease.owner,
      token: lease.token,
      status: update.status,
      log,
      wakeInMs: update.wakeInMs,
      extendMs: update.lease === 'release' ? 0 : update.lease.extendMs,
    };
    return (await this.backend.execute(sql, bind(names, values))) > 0;
  }

  async heartbeat(id: string, lease: SagaLease, leaseMs: number): Promise<boolean> {
    checkHeartbeat(id, lease, leaseMs);
    const { sql, names } = this.#sql.heartbeat;
    const values = { id, owner: lease.owner, token: lease.token, leaseMs };
    return (await this.backend.execute(sql, bind(names, values))) > 0;
  }

  async get(id: string): Promise<StoredSaga | undefined> {
    const [row] = await this.#query(this.#sql.get, { id });
    return row === undefined ? undefined : this.#toSaga(row);
  }

  async list(query: SagaListQuery): Promise<readonly StoredSaga[]> {
    checkList(query);
    const rows = await this.#query(this.#sql.list, {
      statuses: this.#dialect.listParam(query.statuses),
      name: query.name ?? null,
      afterId: query.afterId ?? null,
      limit: query.limit,
    });
    return rows.map((row) => this.#toSaga(row));
  }

  async purge(request: SagaPurgeRequest): Promise<number> {
    checkPurge(request);
    const { sql, names } = this.#sql.purge;
    const values = {
      statuses: this.#dialect.listParam(request.statuses),
      finishedBeforeMs: request.finishedBeforeMs,
      limit: request.limit,
    };
    return this.backend.execute(sql, bind(names, values));
  }

  async saveInTransaction<T>(
    work: (backend: StorageBackend) => Promise<T>,
    update: (value: T) => SagaUpdate,
    lease: SagaLease,
  ): Promise<{ readonly saved: boolean; readonly value?: T }> {
    return saveWithWork(this.backend, work, (tx, value) =>
      this.withBackend(tx).save(update(value), lease),
    );
  }

  async close(): Promise<void> {
    if (this.#ownsBackend) await this.backend.close();
  }

  #query(statement: Statement, values: Readonly<Record<string, unknown>>): Promise<SagaRow[]> {
    return this.backend.query<SagaRow>(statement.sql, bind(statement.names, values));
  }

  #toSaga(row: SagaRow): StoredSaga {
    const where = { backend: this.kind, component: SAGA_STORE_COMPONENT, id: row.id };
    return {
      id: row.id,
      name: row.name,
      version: Number(row.version),
      status: row.status,
      log: parseStoredJson(row.log, { ...where, field: 'log' }),
      wakeAt: Number(row.wake_at),
      createdAt: Number(row.created_at),
      updatedAt: Number(row.updated_at),
      finishedAt: row.finished_at === null ? null : Number(row.finished_at),
    };
  }
}

/** `create` found the id taken but could not read the saga holding it. */
function createFoundNoSaga(backend: string, id: string): FlowproofError {
  return new FlowproofError(
    'BACKEND_ERROR',
    `Saga ${id} could neither be inserted nor read: another transaction holds the id, and this one cannot see it (a repeatable-read or serializable transaction started before it was created)`,
    { details: { backend, reason: 'create-found-no-saga', id } },
  );
}

/** A saga row as the statements return it (bigint columns may arrive as strings). */
interface SagaRow {
  id: string;
  name: string;
  version: number | string;
  status: SagaStatus;
  log: string;
  wake_at: number | string;
  created_at: number | string;
  updated_at: number | string;
  finished_at: number | string | null;
  lease_token?: number | string;
}

/** A statement and the names of the values its placeholders take, in placeholder order. */
interface Statement {
  readonly sql: string;
  readonly names: readonly string[];
}

function bind(names: readonly string[], values: Readonly<Record<string, unknown>>): unknown[] {
  return names.map((name) => values[name] ?? null);
}

type SagaStatements = ReturnType<typeof statements>;

function statements<B extends SqlBackend>(dialect: SagaSqlDialect<B>, table: string) {
  /**
   * Builds one statement: `$(name)` is a placeholder for the value `name`. Every use is its own
   * placeholder, so SQLite's positional `?` and PostgreSQL's `$n` bind the same way.
   */
  const statement = (
    build: (p: (name: string, type?: 'jsonb' | 'text' | 'list') => string) => string,
  ) => {
    const names: string[] = [];
    const sql = build((name, type) => {
      names.push(name);
      if (type === 'list') return dialect.listPlaceholder(names.length);
      return dialect.sql.param(names.length, type);
    });
    return { sql, names } satisfies Statement;
  };
  // One clock reading per statement, however often it is used.
  const clock = `WITH clock AS (SELECT ${dialect.now} AS now)`;
  const now = '(SELECT now FROM clock)';
  const columns = `id, name, version, status, ${dialect.sql.jsonText('log')}, wake_at, created_at, updated_at, finished_at`;
  const finishedAt = (status: string) =>
    `CASE WHEN ${status} IN (${ACTIVE_STATUS_LIST}) THEN NULL ELSE ${now} END`;
  const inList = dialect.inList;
  const optionalList = (column: string, name: string, $: (n: string, t: 'list') => string) =>
    `(${$(name, 'list')} IS NULL OR ${inList(column, $(name, 'list'))})`;

  const create = (leased: boolean) =>
    statement(
      ($) => `${clock}
      INSERT INTO ${table} (id, name, version, status, log, wake_at, lease_owner, lease_until,
                            lease_token, created_at, updated_at, finished_at)
      VALUES (${$('id')}, ${$('name')}, ${$('version')}, ${$('status')}, ${$('log', 'jsonb')}, ${now},
              ${leased ? `${$('owner')}, ${now} + ${$('leaseMs')}, 1` : 'NULL, 0, 0'},
              ${now}, ${now}, ${finishedAt($('status', 'text'))})
      ON CONFLICT (id) DO NOTHING
      RETURNING ${columns}`,
    );
  const claim = (onlyActive: boolean) =>
    statement(
      // The selection is materialised: inside a plain IN (SELECT … LIMIT n) PostgreSQL may
      // evaluate it again for rows it rechecks, and lease more than `limit` sagas.
      ($) => `${clock}, picked AS MATERIALIZED (
         SELECT id FROM ${table}
          WHERE ${onlyActive ? `status IN (${ACTIVE_STATUS_LIST}) AND ` : ''}${inList('status', $('statuses', 'list'))}
            AND wake_at <= ${now} AND lease_until <= ${now}
            AND ${optionalList('name', 'names', $)} AND ${optionalList('id', 'ids', $)}
          ORDER BY wake_at, id
          LIMIT ${$('limit')} ${dialect.claimLock})
      UPDATE ${table}
         SET lease_owner = ${$('owner')}, lease_until = ${now} + ${$('leaseMs')},
             lease_token = lease_token + 1
       WHERE id IN (SELECT id FROM picked)
      RETURNING ${columns}, lease_token`,
    );
  const save = (release: boolean) =>
    statement(
      ($) => `${clock}
      UPDATE ${table}
         SET status = ${$('status')}, log = ${$('log', 'jsonb')},
             ${
               // A runner that keeps the saga leaves its due time alone: no indexed column changes
               // on a step's write, so PostgreSQL can update the row in place (a HOT update).
               release ? `wake_at = ${now} + ${$('wakeInMs')},` : ''
             }
             updated_at = ${now}, finished_at = ${finishedAt($('status', 'text'))},
             ${release ? 'lease_owner = NULL, lease_until = 0' : `lease_until = ${now} + ${$('extendMs')}`}
       WHERE id = ${$('id')} AND lease_owner = ${$('owner')} AND lease_token = ${$('token')}`,
    );
  return {
    table,
    now: `SELECT ${dialect.now} AS now`,
    create: create(false),
    createLeased: create(true),
    claim: claim(false),
    claimActive: claim(true),
    saveExtend: save(false),
    saveRelease: save(true),
    heartbeat: statement(
      ($) => `${clock}
      UPDATE ${table} SET lease_until = ${now} + ${$('leaseMs')}
       WHERE id = ${$('id')} AND lease_owner = ${$('owner')} AND lease_token = ${$('token')}`,
    ),
    get: statement(($) => `SELECT ${columns} FROM ${table} WHERE id = ${$('id')}`),
    list: statement(
      ($) => `SELECT ${columns} FROM ${table}
       WHERE ${optionalList('status', 'statuses', $)}
         AND (${$('name', 'text')} IS NULL OR name = ${$('name')})
         AND (${$('afterId', 'text')} IS NULL OR id > ${$('afterId')})
       ORDER BY id
       LIMIT ${$('limit')}`,
    ),
    // Active sagas never have finished_at; the subquery's rows are checked again once locked.
    purge: statement(
      ($) => `${clock}, picked AS MATERIALIZED (
        SELECT id FROM ${table}
         WHERE finished_at IS NOT NULL AND finished_at <= ${now} - ${$('finishedBeforeMs')}
           AND ${inList('status', $('statuses', 'list'))}
         ORDER BY finished_at
         LIMIT ${$('limit')} ${dialect.claimLock})
      DELETE FROM ${table} WHERE id IN (SELECT id FROM picked)
      AND finished_at IS NOT NULL`,
    ),
  };
}
