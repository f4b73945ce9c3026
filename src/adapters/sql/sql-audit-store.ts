import { auditBodyPrefix, auditRecordBody, auditRecordHash } from '../../audit/audit-encoding.js';
import {
  AUDIT_GENESIS_HASH,
  type AuditAppend,
  type AuditArchiveRequest,
  type AuditChainHead,
  type AuditChainRead,
  type AuditCheckpoint,
  type AuditCheckpointRead,
  type AuditRow,
  type AuditStore,
  type AuditStoreQuery,
} from '../../audit/audit-store.js';
import { assertStoreOptions } from '../../core/options.js';
import type { MigrationReport, MigrationSet } from '../../core/storage-backend.js';
import {
  type AuditStoredLocation,
  archiveRefusal,
  checkAppends,
  checkArchive,
  checkChain,
  checkChainRead,
  checkCheckpoint,
  checkCheckpointRead,
  checkStoreQuery,
  checkVerifiedMark,
  storedAuditAlgorithm,
  storedAuditInteger,
  storedAuditText,
} from '../audit-store-input.js';
import {
  bindNamed,
  type NamedStatement,
  namedStatement,
  type SqlBackend,
  type SqlDialect,
  type SqlJsonRows,
  type SqlParamType,
} from './sql-dialect.js';

/** The audit store's tables (before the backend's prefix and schema). */
export const AUDIT_TABLES = {
  records: 'audit_records',
  heads: 'audit_heads',
  checkpoints: 'audit_checkpoints',
  verified: 'audit_verified',
} as const;

/** The message of the database's refusal to change or remove an audit record. */
export const AUDIT_APPEND_ONLY_MESSAGE = 'flowproof audit records are append-only';

/**
 * The query indexes of the records table `table`, named by `index(suffix)`: one per shape of
 * {@link AuditStore.query} (actor, resource, time, correlation id, action), each ending in the
 * time so a filtered query reads its rows in the order it returns them.
 */
export function auditRecordIndexes(table: string, index: (suffix: string) => string): string[] {
  return [
    `CREATE INDEX ${index('actor')} ON ${table} (actor_id, recorded_at)`,
    `CREATE INDEX ${index('resource')} ON ${table} (resource_type, resource_id, recorded_at)`,
    `CREATE INDEX ${index('time')} ON ${table} (recorded_at)`,
    `CREATE INDEX ${index('correlation')} ON ${table} (correlation_id)`,
    `CREATE INDEX ${index('action')} ON ${table} (action, recorded_at)`,
  ];
}

/** How one engine spells the audit tables' columns, for {@link auditTables}. */
export interface AuditColumnTypes {
  /** The text type. */
  readonly text: string;
  /** The 64-bit integer type. */
  readonly integer: string;
  /** A column generated from the body: the member at `path` (e.g. `['actor', 'id']`) as text. */
  member(path: readonly string[]): string;
  /** Appended to the records table's definition (e.g. `WITHOUT ROWID`), or empty. */
  readonly recordsOptions: string;
  /**
   * The records table is partitioned by the range of this column: its primary key must then
   * include it (the chain's head still keeps sequence numbers unique per chain).
   */
  readonly partitionBy?: string;
}

/**
 * The audit store's tables as `CREATE TABLE` statements, with `names` as the tables' names: the
 * records (body kept as text, the exact bytes the hash covers, and the query columns generated
 * from it so they can never disagree with it), the chains' heads, checkpoints and verification
 * markers.
 */
export function auditTables(
  names: { readonly [K in keyof typeof AUDIT_TABLES]: string },
  types: AuditColumnTypes,
): string[] {
  const { text, integer, member } = types;
  return [
    `CREATE TABLE ${names.records} (
       chain ${text} NOT NULL,
       seq ${integer} NOT NULL,
       recorded_at ${integer} NOT NULL,
       body ${text} NOT NULL,
       prev_hash ${text} NOT NULL,
       hash ${text} NOT NULL,
       action ${text} ${member(['action'])},
       actor_id ${text} ${member(['actor', 'id'])},
       resource_type ${text} ${member(['resource', 'type'])},
       resource_id ${text} ${member(['resource', 'id'])},
       correlation_id ${text} ${member(['correlationId'])},
       PRIMARY KEY (chain, seq${types.partitionBy === undefined ? '' : `, ${types.partitionBy}`})
     ) ${types.partitionBy === undefined ? '' : `PARTITION BY RANGE (${types.partitionBy}) `}${types.recordsOptions}`,
    `CREATE TABLE ${names.heads} (
       chain ${text} PRIMARY KEY,
       seq ${integer} NOT NULL,
       hash ${text} NOT NULL,
       prev_hash ${text} NOT NULL,
       archived_through ${integer} NOT NULL DEFAULT 0
     )`,
    `CREATE TABLE ${names.checkpoints} (
       chain ${text} NOT NULL,
       seq ${integer} NOT NULL,
       key_id ${text} NOT NULL,
       hash ${text} NOT NULL,
       signed_at ${integer} NOT NULL,
       algorithm ${text} NOT NULL,
       signature ${text} NOT NULL,
       PRIMARY KEY (chain, seq, key_id)
     )`,
    `CREATE TABLE ${names.verified} (
       chain ${text} PRIMARY KEY,
       seq ${integer} NOT NULL,
       hash ${text} NOT NULL,
       verified_at ${integer} NOT NULL
     )`,
  ];
}

/**
 * How one engine spells what the audit statements need beyond {@link SqlDialect}: its clock,
 * rows passed as one JSON parameter (an array of arrays), how a transaction locks the heads it
 * read, and (where the engine hashes) SHA-256 in SQL.
 */
export interface AuditSqlDialect<B extends SqlBackend> extends SqlJsonRows {
  /** The shared spelling (placeholders). */
  readonly sql: SqlDialect<B>;
  /** The store's migrations. */
  readonly migrations: MigrationSet<B>;
  /** The engine's clock in epoch milliseconds, as an SQL expression. */
  readonly now: string;
  /**
   * Appended to the SELECT of the heads an append or an archive changes, so they stay locked
   * until the transaction ends (`FOR UPDATE`); empty where the transaction's first write locks
   * the whole database (SQLite).
   */
  readonly lockRows: string;
  /**
   * The lowercase hex SHA-256 of the UTF-8 text `expression`, when the engine computes it: then
   * one record is appended in one statement that holds its head's lock for that statement only
   * (outside a transaction).
   */
  sha256Hex?(expression: string): string;
}

/**
 * Opens the audit store shared by the SQL backends, after checking the factory's
 * `{ backend, ownsBackend }` options against the dialect.
 *
 * @throws TypeError naming the option when an option is invalid.
 */
export function createSqlAuditStore<B extends SqlBackend>(
  dialect: AuditSqlDialect<B>,
  options: { readonly backend: B; readonly ownsBackend?: boolean },
): SqlAuditStore<B> {
  const { backend, ownsBackend } = assertStoreOptions(
    options,
    dialect.sql.kind,
    dialect.sql.label,
    dialect.sql.backendFactory,
  );
  return new SqlAuditStore(dialect, backend, ownsBackend);
}

/**
 * The audit store over any {@link SqlBackend}. An append locks the heads of its chains, links
 * each record to the one before it and writes records and heads in one transaction (the
 * caller's, when the backend is bound to one); the database's triggers refuse any other change
 * to records and checkpoints.
 */
export class SqlAuditStore<B extends SqlBackend> implements AuditStore<B> {
  readonly kind: B['kind'];
  readonly backend: B;
  readonly #dialect: AuditSqlDialect<B>;
  readonly #ownsBackend: boolean;
  readonly #sql: AuditStatements;

  constructor(
    dialect: AuditSqlDialect<B>,
    backend: B,
    ownsBackend: boolean,
    sql?: AuditStatements,
  ) {
    this.kind = dialect.sql.kind;
    this.backend = backend;
    this.#dialect = dialect;
    this.#ownsBackend = ownsBackend;
    this.#sql = sql ?? statements(dialect, backend);
  }

  withBackend(backend: B): SqlAuditStore<B> {
    if (backend?.kind !== this.kind) {
      throw new TypeError(`backend must be a ${this.#dialect.sql.label} backend`);
    }
    // Statements depend only on the table names; a transaction's backend names the same tables.
    const same = backend.table(AUDIT_TABLES.records) === this.#sql.records;
    return new SqlAuditStore(this.#dialect, backend, false, same ? this.#sql : undefined);
  }

  migrate(): Promise<MigrationReport> {
    return this.backend.migrate(this.#dialect.migrations);
  }

  /** The engine's clock, which every time the store writes is read from. */
  async now(): Promise<Date> {
    const [row] = await this.backend.query<{ now: string | number }>(this.#sql.now);
    return new Date(Number(row?.now));
  }

  async append(entries: readonly AuditAppend[]): Promise<readonly AuditRow[]> {
    checkAppends(entries);
    const [only] = entries;
    if (only === undefined) return [];
    const one = this.#sql.appendOne;
    if (entries.length === 1 && one !== undefined) {
      const values = {
        chain: only.chain,
        prefix: auditBodyPrefix(only.chain),
        content: only.content,
      };
      let rows = await this.#query<RecordRow>(one, values);
      if (rows.length === 0) {
        // The chain's first record: create its head, then append as usual.
        await this.#execute(this.#sql.createHeads, { chains: JSON.stringify([[only.chain]]) });
        rows = await this.#query<RecordRow>(one, values);
      }
      return rows.map((row) => this.#toRow(row));
    }
    return this.backend.transaction((tx) => this.#appendLocked(tx, entries));
  }

  /** Appends in a transaction on `tx`: heads locked in chain order, hashed here, written in bulk. */
  async #appendLocked(tx: B, entries: readonly AuditAppend[]): Promise<readonly AuditRow[]> {
    const chains = JSON.stringify([...new Set(entries.map((e) => e.chain))].sort().map((c) => [c]));
    // A write first: on SQLite it takes the database's write lock before the heads are read.
    await tx.execute(this.#sql.createHeads.sql, bindNamed(this.#sql.createHeads, { chains }));
    const locked = await tx.query<HeadRow & { now: number | string }>(
      this.#sql.lockHeads.sql,
      bindNamed(this.#sql.lockHeads, { chains }),
    );
    const now = Number(locked[0]?.now);
    const heads = new Map(
      locked.map((head) => [
        head.chain,
        { seq: storedAuditInteger(head.seq, this.#at(head), 'seq'), hash: head.hash },
      ]),
    );
    const rows = entries.map((entry): AuditRow => {
      const head = heads.get(entry.chain) ?? { seq: 0, hash: AUDIT_GENESIS_HASH };
      const seq = head.seq + 1;
      const body = auditRecordBody(entry.chain, seq, now, entry.content);
      const hash = auditRecordHash(head.hash, body);
      heads.set(entry.chain, { seq, hash });
      return { chain: entry.chain, seq, recordedAt: now, body, prevHash: head.hash, hash };
    });
    const records = rows.map((r) => [r.chain, r.seq, r.recordedAt, r.body, r.prevHash, r.hash]);
    await tx.execute(
      this.#sql.insertRecords.sql,
      bindNamed(this.#sql.insertRecords, { rows: JSON.stringify(records) }),
    );
    const last = new Map(rows.map((row) => [row.chain, row]));
    const moved = [...last.values()].map((r) => [r.chain, r.seq, r.hash, r.prevHash]);
    await tx.execute(
      this.#sql.updateHeads.sql,
      bindNamed(this.#sql.updateHeads, { rows: JSON.stringify(moved) }),
    );
    return rows;
  }

  async readChain(read: AuditChainRead): Promise<readonly AuditRow[]> {
    checkChainRead(read);
    if (read.limit === 0) return [];
    const rows = await this.#query<RecordRow>(this.#sql.readChain, {
      ...read,
      throughSeq: read.throughSeq ?? Number.MAX_SAFE_INTEGER,
    });
    return rows.map((row) => this.#toRow(row));
  }

  async heads(chain?: string): Promise<readonly AuditChainHead[]> {
    if (chain !== undefined) checkChain(chain);
    const rows =
      chain === undefined
        ? await this.#query<HeadRow>(this.#sql.allHeads, {})
        : await this.#query<HeadRow>(this.#sql.head, { chain });
    return rows.map((row) => {
      const where = this.#at(row);
      return {
        chain: storedAuditText(row.chain, where, 'chain'),
        seq: storedAuditInteger(row.seq, where, 'seq'),
        hash: storedAuditText(row.hash, where, 'hash'),
        archivedThrough: storedAuditInteger(row.archived_through, where, 'archived_through'),
      };
    });
  }

  async query(query: AuditStoreQuery): Promise<readonly AuditRow[]> {
    checkStoreQuery(query);
    if (query.limit === 0) return [];
    const rows = await this.#query<RecordRow>(this.#sql.query(query), {
      ...query,
      afterAt: query.after?.recordedAt,
      afterChain: query.after?.chain,
      afterSeq: query.after?.seq,
    });
    return rows.map((row) => this.#toRow(row));
  }

  async addCheckpoint(checkpoint: AuditCheckpoint): Promise<void> {
    checkCheckpoint(checkpoint);
    await this.#execute(this.#sql.addCheckpoint, { ...checkpoint });
  }

  async checkpoints(read: AuditCheckpointRead): Promise<readonly AuditCheckpoint[]> {
    checkCheckpointRead(read);
    if (read.limit === 0) return [];
    const rows = await this.#query<CheckpointRow>(this.#sql.checkpoints, { ...read });
    return rows.map((row) => {
      const where = this.#at(row);
      return {
        chain: storedAuditText(row.chain, where, 'chain'),
        seq: storedAuditInteger(row.seq, where, 'seq'),
        hash: storedAuditText(row.hash, where, 'hash'),
        signedAt: storedAuditInteger(row.signed_at, where, 'signed_at'),
        keyId: storedAuditText(row.key_id, where, 'key_id'),
        algorithm: storedAuditAlgorithm(row.algorithm, where),
        signature: storedAuditText(row.signature, where, 'signature'),
      };
    });
  }

  async markVerified(chain: string, seq: number, hash: string): Promise<void> {
    checkVerifiedMark(chain, seq, hash);
    await this.#execute(this.#sql.markVerified, { chain, seq, hash });
  }

  async lastVerified(
    chain: string,
  ): Promise<{ readonly seq: number; readonly hash: string } | undefined> {
    checkChain(chain);
    const [row] = await this.#query<HeadRow>(this.#sql.lastVerified, { chain });
    if (row === undefined) return undefined;
    const where = this.#at(row);
    return {
      seq: storedAuditInteger(row.seq, where, 'seq'),
      hash: storedAuditText(row.hash, where, 'hash'),
    };
  }

  async archive(request: AuditArchiveRequest): Promise<number> {
    checkArchive(request);
    const sql = this.#sql;
    return this.backend.transaction(async (tx) => {
      const run = <R>(statement: NamedStatement) =>
        tx.query<R>(statement.sql, bindNamed(statement, { ...request }));
      const [head] = await run<HeadRow>(sql.lockHead);
      const [covered] = await run<{ one: unknown }>(sql.checkpointAt);
      const where = { backend: this.kind, chain: request.chain, seq: head?.seq };
      const refusal = archiveRefusal(
        request,
        head === undefined ? 0 : storedAuditInteger(head.seq, where, 'seq'),
        head === undefined
          ? 0
          : storedAuditInteger(head.archived_through, where, 'archived_through'),
        covered !== undefined,
      );
      if (refusal !== undefined) throw refusal;
      await tx.execute(sql.setBoundary.sql, bindNamed(sql.setBoundary, { ...request }));
      if (request.limit === 0) return 0;
      return tx.execute(sql.archive.sql, bindNamed(sql.archive, { ...request }));
    });
  }

  async close(): Promise<void> {
    if (this.#ownsBackend) await this.backend.close();
  }

  #query<R>(statement: NamedStatement, values: Readonly<Record<string, unknown>>): Promise<R[]> {
    return this.backend.query<R>(statement.sql, bindNamed(statement, values));
  }

  #execute(statement: NamedStatement, values: Readonly<Record<string, unknown>>): Promise<number> {
    return this.backend.execute(statement.sql, bindNamed(statement, values));
  }

  #at(row: { chain: unknown; seq: unknown }): AuditStoredLocation {
    return { backend: this.kind, chain: row.chain, seq: row.seq };
  }

  #toRow(row: RecordRow): AuditRow {
    const where = this.#at(row);
    return {
      chain: storedAuditText(row.chain, where, 'chain'),
      seq: storedAuditInteger(row.seq, where, 'seq'),
      recordedAt: storedAuditInteger(row.recorded_at, where, 'recorded_at'),
      body: storedAuditText(row.body, where, 'body'),
      prevHash: storedAuditText(row.prev_hash, where, 'prev_hash'),
      hash: storedAuditText(row.hash, where, 'hash'),
    };
  }
}

/** A record as the statements return it (bigint columns may arrive as strings). */
interface RecordRow {
  chain: unknown;
  seq: unknown;
  recorded_at: unknown;
  body: unknown;
  prev_hash: unknown;
  hash: unknown;
}

/** A head (or verification marker) as the statements return it. */
interface HeadRow {
  chain: string;
  seq: unknown;
  hash: string;
  archived_through: unknown;
}

/** A checkpoint as the statements return it. */
interface CheckpointRow {
  chain: unknown;
  seq: unknown;
  hash: unknown;
  signed_at: unknown;
  key_id: unknown;
  algorithm: unknown;
  signature: unknown;
}

/** The filters of {@link AuditStoreQuery}, each with its condition over the records table. */
const QUERY_FILTERS = [
  ['chain', (p: string) => `chain = ${p}`],
  ['action', (p: string) => `action = ${p}`],
  ['actorId', (p: string) => `actor_id = ${p}`],
  ['resourceType', (p: string) => `resource_type = ${p}`],
  ['resourceId', (p: string) => `resource_id = ${p}`],
  ['correlationId', (p: string) => `correlation_id = ${p}`],
  ['from', (p: string) => `recorded_at >= ${p}`],
  ['to', (p: string) => `recorded_at < ${p}`],
] as const;

type AuditStatements = ReturnType<typeof statements>;

function statements<B extends SqlBackend>(dialect: AuditSqlDialect<B>, backend: B) {
  const records = backend.table(AUDIT_TABLES.records);
  const heads = backend.table(AUDIT_TABLES.heads);
  const checkpoints = backend.table(AUDIT_TABLES.checkpoints);
  const verified = backend.table(AUDIT_TABLES.verified);
  const statement = (build: ($: (name: string, type?: SqlParamType) => string) => string) =>
    namedStatement(dialect.sql, build);
  const { field, rowOrder, lockRows, now } = dialect;
  const columns = 'chain, seq, recorded_at, body, prev_hash, hash';
  const genesis = `'${AUDIT_GENESIS_HASH}'`;
  const chainsOf = ($: (name: string) => string) =>
    `(SELECT ${field(0, 'text')} FROM ${dialect.rows($('chains'))})`;
  const queries = new Map<string, NamedStatement>();

  /**
   * One record in one statement: the head moves and the record is written together, the hash
   * computed by the engine, so the head's row is locked for this statement only.
   */
  const appendOne = (sha256Hex: (expression: string) => string) =>
    statement(($) => {
      const body = (seq: string, at: string) =>
        `${$('prefix', 'text')} || ${seq} || ',"at":' || ${at} || ',' || ${$('content', 'text')} || '}'`;
      return `WITH clock AS (SELECT ${now} AS now),
      head AS (
        UPDATE ${heads} AS h
           SET seq = h.seq + 1, prev_hash = h.hash,
               hash = ${sha256Hex(`h.hash || chr(10) || ${body('(h.seq + 1)', 'clock.now')}`)}
          FROM clock
         WHERE h.chain = ${$('chain', 'text')}
        RETURNING h.seq, h.prev_hash, h.hash, clock.now)
      INSERT INTO ${records} (chain, seq, recorded_at, body, prev_hash, hash)
      SELECT ${$('chain', 'text')}, head.seq, head.now, ${body('head.seq', 'head.now')},
             head.prev_hash, head.hash
        FROM head
      RETURNING ${columns}`;
    });

  return {
    records,
    now: `SELECT ${now} AS now`,
    appendOne: dialect.sha256Hex === undefined ? undefined : appendOne(dialect.sha256Hex),
    // WHERE 1 = 1: SQLite reads `ON CONFLICT` after a bare SELECT's FROM as a join's ON.
    createHeads: statement(
      ($) => `INSERT INTO ${heads} (chain, seq, hash, prev_hash, archived_through)
      SELECT DISTINCT ${field(0, 'text')}, 0, ${genesis}, ${genesis}, 0
        FROM ${dialect.rows($('chains'))} WHERE 1 = 1
       ORDER BY 1
      ON CONFLICT (chain) DO NOTHING`,
    ),
    // In chain order, so two appenders of several chains lock them in one order and never wait
    // for each other in a cycle.
    lockHeads: statement(
      ($) => `SELECT chain, seq, hash, ${now} AS now FROM ${heads}
       WHERE chain IN ${chainsOf($)}
       ORDER BY chain ${lockRows}`,
    ),
    insertRecords: statement(
      ($) => `INSERT INTO ${records} (chain, seq, recorded_at, body, prev_hash, hash)
      SELECT ${field(0, 'text')}, ${field(1, 'bigint')}, ${field(2, 'bigint')}, ${field(3, 'text')},
             ${field(4, 'text')}, ${field(5, 'text')}
        FROM ${dialect.rows($('rows'))}
       ORDER BY ${rowOrder}`,
    ),
    updateHeads: statement(
      ($) => `UPDATE ${heads} AS h SET seq = r.seq, hash = r.hash, prev_hash = r.prev_hash
        FROM (SELECT ${field(0, 'text')} AS chain, ${field(1, 'bigint')} AS seq,
                     ${field(2, 'text')} AS hash, ${field(3, 'text')} AS prev_hash
                FROM ${dialect.rows($('rows'))}) AS r
       WHERE h.chain = r.chain`,
    ),
    readChain: statement(
      ($) => `SELECT ${columns} FROM ${records}
       WHERE chain = ${$('chain')} AND seq > ${$('afterSeq')} AND seq <= ${$('throughSeq')}
       ORDER BY seq LIMIT ${$('limit')}`,
    ),
    head: statement(
      ($) => `SELECT chain, seq, hash, archived_through FROM ${heads} WHERE chain = ${$('chain')}`,
    ),
    allHeads: statement(
      () => `SELECT chain, seq, hash, archived_through FROM ${heads} ORDER BY chain`,
    ),
    /** The statement for the filters `query` gives, built once per combination. */
    query(query: AuditStoreQuery): NamedStatement {
      const given = QUERY_FILTERS.filter(([name]) => query[name] !== undefined);
      const key = `${given.map(([name]) => name).join()}|${query.after === undefined ? '' : 'after'}`;
      let built = queries.get(key);
      if (built === undefined) {
        built = statement(($) => {
          const conditions = given.map(([name, condition]) => condition($(name)));
          if (query.after !== undefined) {
            conditions.push(
              `(recorded_at, chain, seq) > (${$('afterAt')}, ${$('afterChain')}, ${$('afterSeq')})`,
            );
          }
          return `SELECT ${columns} FROM ${records}
            ${conditions.length === 0 ? '' : `WHERE ${conditions.join(' AND ')}`}
            ORDER BY recorded_at, chain, seq LIMIT ${$('limit')}`;
        });
        queries.set(key, built);
      }
      return built;
    },
    addCheckpoint: statement(
      ($) => `INSERT INTO ${checkpoints}
        (chain, seq, key_id, hash, signed_at, algorithm, signature)
      VALUES (${$('chain')}, ${$('seq')}, ${$('keyId')}, ${$('hash')}, ${$('signedAt')},
              ${$('algorithm')}, ${$('signature')})
      ON CONFLICT (chain, seq, key_id) DO NOTHING`,
    ),
    checkpoints: statement(
      ($) => `SELECT chain, seq, hash, signed_at, key_id, algorithm, signature FROM ${checkpoints}
       WHERE chain = ${$('chain')} AND seq > ${$('afterSeq')}
       ORDER BY seq, key_id LIMIT ${$('limit')}`,
    ),
    markVerified: statement(
      ($) => `INSERT INTO ${verified} (chain, seq, hash, verified_at)
      VALUES (${$('chain')}, ${$('seq')}, ${$('hash')}, ${now})
      ON CONFLICT (chain) DO UPDATE
        SET seq = excluded.seq, hash = excluded.hash, verified_at = excluded.verified_at`,
    ),
    lastVerified: statement(
      ($) => `SELECT chain, seq, hash FROM ${verified} WHERE chain = ${$('chain')}`,
    ),
    lockHead: statement(
      ($) => `SELECT chain, seq, archived_through FROM ${heads}
       WHERE chain = ${$('chain')} ${lockRows}`,
    ),
    checkpointAt: statement(
      ($) => `SELECT 1 AS one FROM ${checkpoints}
       WHERE chain = ${$('chain')} AND seq = ${$('throughSeq')} LIMIT 1`,
    ),
    setBoundary: statement(
      ($) => `UPDATE ${heads} SET archived_through = ${$('throughSeq')}
       WHERE chain = ${$('chain')} AND archived_through < ${$('throughSeq')}`,
    ),
    // Oldest first; the records' delete trigger lets exactly the rows up to the boundary go.
    archive: statement(
      ($) => `DELETE FROM ${records}
       WHERE chain = ${$('chain')} AND seq IN (
         SELECT seq FROM ${records}
          WHERE chain = ${$('chain')} AND seq <= ${$('throughSeq')}
          ORDER BY seq LIMIT ${$('limit')})`,
    ),
  };
}
