import { assertNonEmptyString, assertOptionsObject } from '../../core/options.js';
import type { ColumnDefinition, ColumnReader } from '../../validation/column-reader.js';
import type { SqliteBackend } from './sqlite-backend.js';

/** Options of {@link createSqliteColumnReader}. */
export interface SqliteColumnReaderOptions {
  /**
   * The database holding the tables (`main`, or the name of an attached database).
   * @default 'main'
   */
  readonly schema?: string;
}

interface TableInfoRow {
  readonly name: string;
  readonly type: string;
  readonly not_null: number;
  readonly dflt_value: unknown;
  readonly pk: number;
}

/**
 * Reads column definitions from SQLite (`pragma_table_info`) for the validation module's
 * schema-versus-table check. SQLite keeps declared types such as `VARCHAR(100)` without enforcing
 * their length, so this check is the only thing that keeps a schema and such a column in step.
 *
 * @throws TypeError when `backend` has no `query` method or an option is invalid.
 * @example
 * ```ts
 * import { assertSchemaMatchesTable } from 'flowproof/validation';
 * import { createSqliteBackend, createSqliteColumnReader } from 'flowproof/adapters/sqlite';
 *
 * const backend = createSqliteBackend({ database: new Database('app.db') });
 * await assertSchemaMatchesTable(CreateProduct, createSqliteColumnReader(backend), 'products');
 * ```
 */
export function createSqliteColumnReader(
  backend: Pick<SqliteBackend, 'query'>,
  options: SqliteColumnReaderOptions = {},
): ColumnReader {
  if (typeof backend?.query !== 'function') {
    throw new TypeError('backend must be a SQLite backend (createSqliteBackend)');
  }
  assertOptionsObject(options, 'options');
  const schema = options.schema ?? 'main';
  assertNonEmptyString(schema, 'options.schema');
  return {
    async readColumns(table: string): Promise<readonly ColumnDefinition[]> {
      assertNonEmptyString(table, 'table');
      const rows = await backend.query<TableInfoRow>(
        'SELECT name, type, "notnull" AS not_null, dflt_value, pk FROM pragma_table_info(?, ?)',
        [table, schema],
      );
      return rows.map((row) => {
        // An INTEGER PRIMARY KEY is the rowid: SQLite assigns it when the insert leaves it out.
        const rowid = row.pk > 0 && row.type.trim().toUpperCase() === 'INTEGER';
        return {
          name: row.name,
          type: row.type,
          nullable: row.not_null === 0,
          hasDefault: row.dflt_value !== null || rowid,
        };
      });
    },
  };
}
