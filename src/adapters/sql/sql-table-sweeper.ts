/**
 * The retention sweeper's statements, written once over the engine's spelling: each call is one
 * statement (its own transaction) that picks a bounded keyset batch in a subquery and deletes or
 * updates it by key.
 */
import { describeValue } from '../../core/errors.js';
import { assertInteger, assertSqlIdentifier } from '../../core/options.js';
import type {
  SubjectBatchRequest,
  SweepBatchRequest,
  SweepBatchResult,
  SweepKey,
  SweptTableColumns,
  TableSweeper,
} from '../../retention/table-sweeper.js';
import { bindNamed, type NamedStatement, namedStatement, type SqlBackend } from './sql-dialect.js';

/** How one engine spells the sweeper's statements. @internal */
export interface TableSweeperSpelling {
  /** The backend kind accepted. */
  readonly kind: string;
  /** The engine's name in messages. */
  readonly label: string;
  /** The factory that makes such a backend. */
  readonly backendFactory: string;
  /** The `n`-th (1-based) placeholder. */
  param(n: number): string;
  /** `column` is one of the list in `placeholder`. */
  inList(column: string, placeholder: string): string;
  /** The list parameter's value for `values`. */
  list(values: readonly string[]): unknown;
  /** `a` differs from `b`, NULL-safe. */
  distinct(a: string, b: string): string;
  /** Appended to the picking subquery of a sweep batch. */
  readonly lock: string;
  /** Appended to the picking subquery of an erasure batch (waits rather than skips). */
  readonly subjectLock: string;
  /** The statement's condition on `key` over the rows `subquery` picks. */
  match(key: string, subquery: string): string;
  /** The batch statement around `write` (`DELETE … RETURNING key AS k` / `UPDATE … RETURNING key AS k`). */
  batch(write: string): string;
  /** The result of the rows {@link batch}'s statement returned. */
  result(rows: readonly Record<string, unknown>[]): SweepBatchResult;
}

/** The statements of one table. */
interface TableStatements {
  /** By [after a key?][held subjects?]: `delete[1][0]` continues a scan with no exclusions. */
  readonly delete: readonly (readonly NamedStatement[])[];
  readonly anonymize: readonly (readonly NamedStatement[])[] | undefined;
  readonly countDue: readonly NamedStatement[];
  readonly countDueAnonymize: readonly NamedStatement[] | undefined;
  readonly deleteBySubject: NamedStatement | undefined;
  readonly anonymizeBySubject: NamedStatement | undefined;
  readonly countBySubject: NamedStatement | undefined;
  readonly countBySubjectUnanonymized: NamedStatement | undefined;
  /** Replacement values by name (`r0`, `r1`…). */
  readonly replacements: Readonly<Record<string, string | number | null>>;
}

type Placeholder = (name: string) => string;

function quote(identifier: string): string {
  return `"${identifier}"`;
}

/** The quoted, checked table name (schema-qualified allowed). @internal */
export function quotedTable(table: unknown, name: string): string {
  if (typeof table !== 'string') {
    return quote(assertSqlIdentifier(table, name));
  }
  const parts = table.split('.');
  if (parts.length > 2) {
    throw new TypeError(`${name} must be a table name or schema.table, got "${table}"`);
  }
  return parts.map((part) => quote(assertSqlIdentifier(part, name))).join('.');
}

/**
 * Builds the statements of `table`. Placeholders are named and numbered in the order the text
 * is written (SQLite's `?` are positional), so a statement is always one template evaluated left
 * to right.
 */
function buildStatements(t: SweptTableColumns, s: TableSweeperSpelling): TableStatements {
  const table = quotedTable(t.table, 'table.table');
  const key = quote(assertSqlIdentifier(t.key ?? 'id', 'table.key'));
  const time = quote(assertSqlIdentifier(t.timestamp, 'table.timestamp'));
  const subject =
    t.subject === undefined ? undefined : quote(assertSqlIdentifier(t.subject, 'table.subject'));
  const entries = Object.entries(t.anonymize ?? {});
  const columns = entries.map(([column]) => quote(assertSqlIdentifier(column, 'table.anonymize')));
  const replacements = Object.fromEntries(entries.map(([, value], i) => [`r${i}`, value]));
  const statement = (build: ($: Placeholder) => string) => namedStatement(s, build);

  // Rows whose time is due, after the last key, of no held subject (a table without a subject
  // column has nothing to exclude: subject holds do not reach it). Without held subjects the
  // condition is left out, not made trivially true: an extra filter lowers the planner's row
  // estimate, and with an index on the time column it may then sort every due row per batch
  // instead of walking the key index.
  const due = ($: Placeholder, after: boolean, held: boolean): string =>
    [
      `${time} <= ${$('cutoff')}`,
      ...(after ? [`${key} > ${$('after')}`] : []),
      ...(subject === undefined || !held
        ? []
        : [`(${subject} IS NULL OR NOT ${s.inList(subject, $('held'))})`]),
    ].join(' AND ');
  // A row still to anonymize: one of its columns differs from its replacement (NULL-safe). Each
  // use of a replacement is its own placeholder, typed from its column.
  const notAnonymized = ($: Placeholder): string =>
    `(${columns.map((c, i) => s.distinct(c, $(`r${i}`))).join(' OR ')})`;
  const set = ($: Placeholder): string => columns.map((c, i) => `${c} = ${$(`r${i}`)}`).join(', ');

  const deleteBatch = (after: boolean, held: boolean) =>
    statement(($) =>
      s.batch(
        `DELETE FROM ${table} WHERE ${s.match(
          key,
          `SELECT ${key} FROM ${table} WHERE ${due($, after, held)} ORDER BY ${key} LIMIT ${$('limit')} ${s.lock}`,
        )} RETURNING ${key} AS k`,
      ),
    );
  const anonymizeBatch = (after: boolean, held: boolean) =>
    statement(($) =>
      s.batch(
        `UPDATE ${table} SET ${set($)} WHERE ${s.match(
          key,
          `SELECT ${key} FROM ${table} WHERE ${due($, after, held)} AND ${notAnonymized($)}
                ORDER BY ${key} LIMIT ${$('limit')} ${s.lock}`,
        )} RETURNING ${key} AS k`,
      ),
    );
  const ofSubjects = ($: Placeholder): string => s.inList(subject as string, $('subjects'));
  return {
    delete: [false, true].map((after) => [false, true].map((held) => deleteBatch(after, held))),
    anonymize:
      columns.length === 0
        ? undefined
        : [false, true].map((after) => [false, true].map((held) => anonymizeBatch(after, held))),
    countDue: [false, true].map((held) =>
      statement(($) => `SELECT count(*) AS n FROM ${table} WHERE ${due($, false, held)}`),
    ),
    countDueAnonymize:
      columns.length === 0
        ? undefined
        : [false, true].map((held) =>
            statement(
              ($) =>
                `SELECT count(*) AS n FROM ${table} WHERE ${due($, false, held)} AND ${notAnonymized($)}`,
            ),
          ),
    deleteBySubject:
      subject === undefined
        ? undefined
        : statement(
            ($) =>
              `DELETE FROM ${table} WHERE ${s.match(
                key,
                `SELECT ${key} FROM ${table} WHERE ${ofSubjects($)} LIMIT ${$('limit')} ${s.subjectLock}`,
              )}`,
          ),
    anonymizeBySubject:
      subject === undefined || columns.length === 0
        ? undefined
        : statement(
            ($) =>
              `UPDATE ${table} SET ${set($)} WHERE ${s.match(
                key,
                `SELECT ${key} FROM ${table} WHERE ${ofSubjects($)} AND ${notAnonymized($)}
                  LIMIT ${$('limit')} ${s.subjectLock}`,
              )}`,
          ),
    countBySubject:
      subject === undefined
        ? undefined
        : statement(($) => `SELECT count(*) AS n FROM ${table} WHERE ${ofSubjects($)}`),
    countBySubjectUnanonymized:
      subject === undefined || columns.length === 0
        ? undefined
        : statement(
            ($) =>
              `SELECT count(*) AS n FROM ${table} WHERE ${ofSubjects($)} AND ${notAnonymized($)}`,
          ),
    replacements,
  };
}

/**
 * A {@link TableSweeper} over `backend` in the engine's spelling. Statements are built once per
 * table description (by value) and reused.
 *
 * @internal
 */
export function createSqlTableSweeper(
  backend: SqlBackend,
  spelling: TableSweeperSpelling,
): TableSweeper {
  const cache = new Map<string, TableStatements>();
  const statements = (table: SweptTableColumns): TableStatements => {
    const id = JSON.stringify([
      table.table,
      table.key,
      table.timestamp,
      table.timeType,
      table.subject,
      table.anonymize === undefined ? null : Object.entries(table.anonymize),
    ]);
    let built = cache.get(id);
    if (built === undefined) {
      built = buildStatements(table, spelling);
      cache.set(id, built);
    }
    return built;
  };
  const cutoffValue = (table: SweptTableColumns, cutoff: Date): string | number => {
    if (!(cutoff instanceof Date) || Number.isNaN(cutoff.getTime())) {
      throw new TypeError(`cutoff must be a valid Date, got ${describeValue(cutoff)}`);
    }
    return table.timeType === 'epoch-ms' ? cutoff.getTime() : cutoff.toISOString();
  };
  const count = async (
    sql: NamedStatement,
    values: Readonly<Record<string, unknown>>,
  ): Promise<number> => {
    const [row] = await backend.query<{ n: unknown }>(sql.sql, bindNamed(sql, values));
    return Number(row?.n ?? 0);
  };
  const needs = <T>(value: T | undefined, what: string, table: SweptTableColumns): T => {
    if (value === undefined) {
      throw new TypeError(`table ${JSON.stringify(table.table)} has no ${what}`);
    }
    return value;
  };
  const checkLimit = (limit: number): void => {
    assertInteger(limit, 'limit', 1);
  };
  const subjectList = (subjects: readonly string[]): unknown => {
    if (!Array.isArray(subjects) || subjects.some((x) => typeof x !== 'string')) {
      throw new TypeError(`subjects must be an array of strings, got ${describeValue(subjects)}`);
    }
    return spelling.list(subjects);
  };
  const batch = async (
    sql: NamedStatement,
    { table, cutoff, afterKey, limit, excludeSubjects }: SweepBatchRequest,
    replacements: Readonly<Record<string, unknown>> = {},
  ): Promise<SweepBatchResult> => {
    checkLimit(limit);
    const rows = await backend.query(
      sql.sql,
      bindNamed(sql, {
        ...replacements,
        cutoff: cutoffValue(table, cutoff),
        after: afterKey,
        held: subjectList(excludeSubjects),
        limit,
      }),
    );
    return spelling.result(rows);
  };
  /** Which variant: [after a key?][held subjects to exclude?]. */
  const variant = <T>(
    list: readonly (readonly T[])[],
    { afterKey, excludeSubjects }: SweepBatchRequest,
  ): T => {
    subjectList(excludeSubjects);
    return list[afterKey === null ? 0 : 1]?.[excludeSubjects.length > 0 ? 1 : 0] as T;
  };
  return {
    async deleteBatch(request) {
      const st = statements(request.table);
      return batch(variant(st.delete, request), request);
    },
    async anonymizeBatch(request) {
      const st = statements(request.table);
      const sql = variant(needs(st.anonymize, 'anonymize columns', request.table), request);
      return batch(sql, request, st.replacements);
    },
    async countDue({ table, cutoff, excludeSubjects, anonymize = false }) {
      const st = statements(table);
      const values = {
        ...st.replacements,
        cutoff: cutoffValue(table, cutoff),
        held: subjectList(excludeSubjects),
      };
      const held = excludeSubjects.length > 0 ? 1 : 0;
      if (!anonymize) return count(st.countDue[held] as NamedStatement, values);
      const list = needs(st.countDueAnonymize, 'anonymize columns', table);
      return count(list[held] as NamedStatement, values);
    },
    async deleteBySubject({ table, subjects, limit }: SubjectBatchRequest) {
      checkLimit(limit);
      const sql = needs(statements(table).deleteBySubject, 'subject column', table);
      return backend.execute(sql.sql, bindNamed(sql, { subjects: subjectList(subjects), limit }));
    },
    async anonymizeBySubject({ table, subjects, limit }: SubjectBatchRequest) {
      checkLimit(limit);
      const st = statements(table);
      needs(st.countBySubject, 'subject column', table);
      const sql = needs(st.anonymizeBySubject, 'anonymize columns', table);
      return backend.execute(
        sql.sql,
        bindNamed(sql, { ...st.replacements, subjects: subjectList(subjects), limit }),
      );
    },
    async countBySubject({ table, subjects, unanonymizedOnly = false }) {
      const st = statements(table);
      const all = needs(st.countBySubject, 'subject column', table);
      const values = { ...st.replacements, subjects: subjectList(subjects) };
      if (!unanonymizedOnly) return count(all, values);
      return count(needs(st.countBySubjectUnanonymized, 'anonymize columns', table), values);
    },
    now: () => backend.now(),
  };
}

/** Compares keys as SQLite orders them (numbers before text; text by UTF-8 bytes). @internal */
export function compareSqliteKeys(a: SweepKey, b: SweepKey): number {
  const numeric = (v: SweepKey) => typeof v !== 'string';
  if (numeric(a) && numeric(b)) return a < b ? -1 : a > b ? 1 : 0;
  if (numeric(a)) return -1;
  if (numeric(b)) return 1;
  return Buffer.compare(Buffer.from(a as string), Buffer.from(b as string));
}
