/**
 * Storing a row unless its unique key is taken, and either way reading back the row that holds
 * the key: one statement where the engine has data-modifying `WITH` (PostgreSQL), an insert then
 * a read where it has not (SQLite, whose writes are serialised anyway).
 *
 * @internal
 */
import { FlowproofError } from '../../core/errors.js';
import {
  bindNamed,
  type NamedStatement,
  namedStatement,
  type SqlBackend,
  type SqlDialect,
  type SqlParamType,
} from './sql-dialect.js';

/** Builds part of a statement, `$(name)` being the placeholder of the value `name`. */
type Build = ($: (name: string, type?: SqlParamType) => string) => string;

/** The statements of one insert-or-find, from {@link insertOrFindStatements}. */
export type InsertOrFindStatements =
  | { readonly combined: NamedStatement }
  | { readonly insert: NamedStatement; readonly find: NamedStatement };

/**
 * The statements that insert a row unless its key is taken and read the row holding the key.
 *
 * @param writableCte - the engine runs an `INSERT` inside `WITH` (PostgreSQL): one statement.
 * @param parts.insert - `INSERT … ON CONFLICT (…) DO NOTHING`, without `RETURNING`.
 * @param parts.find - `SELECT <columns> FROM … WHERE <the key>`.
 * @param parts.columns - the columns both return.
 */
export function insertOrFindStatements(
  dialect: Pick<SqlDialect<SqlBackend>, 'param'>,
  writableCte: boolean,
  parts: { readonly insert: Build; readonly find: Build; readonly columns: string },
): InsertOrFindStatements {
  const { insert, find, columns } = parts;
  if (!writableCte) {
    return {
      insert: namedStatement(dialect, ($) => `${insert($)} RETURNING ${columns}`),
      find: namedStatement(dialect, find),
    };
  }
  return {
    combined: namedStatement(
      dialect,
      ($) => `WITH inserted AS (${insert($)} RETURNING ${columns})
      SELECT ${columns}, 1 AS created FROM inserted
      UNION ALL
      SELECT ${columns}, 0 AS created FROM (${find($)}) AS found
       WHERE NOT EXISTS (SELECT 1 FROM inserted)`,
    ),
  };
}

/**
 * Runs an insert-or-find: the row stored or found, and whether it was stored. Neither happens
 * when the row holding the key was committed after the statement's snapshot was taken (its
 * insert saw the conflict, its read cannot see the row), or deleted in between: then it runs
 * once more, with a fresh snapshot.
 *
 * @throws FlowproofError `BACKEND_ERROR` (`details.reason` `'insert-found-no-row'`) when the
 * second run finds no row either: a repeatable-read or serializable transaction of the caller's
 * older than the row, or a row deleted as often as it was found.
 */
export async function insertOrFind<R>(
  backend: SqlBackend,
  statements: InsertOrFindStatements,
  values: Readonly<Record<string, unknown>>,
  what: string,
): Promise<{ readonly row: R; readonly created: boolean }> {
  for (let attempt = 0; attempt < 2; attempt++) {
    if ('combined' in statements) {
      const { combined } = statements;
      const [row] = await backend.query<R & { created: unknown }>(
        combined.sql,
        bindNamed(combined, values),
      );
      if (row !== undefined) return { row, created: Number(row.created) === 1 };
    } else {
      const { insert, find } = statements;
      const [inserted] = await backend.query<R>(insert.sql, bindNamed(insert, values));
      if (inserted !== undefined) return { row: inserted, created: true };
      const [found] = await backend.query<R>(find.sql, bindNamed(find, values));
      if (found !== undefined) return { row: found, created: false };
    }
  }
  throw new FlowproofError(
    'BACKEND_ERROR',
    `The ${what} could neither be stored nor read back: another transaction holds its key, and this one cannot see it (a repeatable-read or serializable transaction older than it)`,
    { details: { backend: backend.kind, reason: 'insert-found-no-row' } },
  );
}
