import { assertNonEmptyString, assertOptionsObject } from '../../core/options.js';
import type { ColumnDefinition, ColumnReader } from '../../validation/column-reader.js';
import type { PostgresBackend } from './postgres-backend.js';

/** Options of {@link createPostgresColumnReader}. */
export interface PostgresColumnReaderOptions {
  /**
   * The schema holding the tables.
   * @default the connection's current schema (`current_schema()`, usually `public`)
   */
  readonly schema?: string;
}

interface InformationSchemaRow {
  readonly column_name: string;
  readonly data_type: string;
  readonly udt_name: string;
  readonly character_maximum_length: number | string | null;
  readonly numeric_precision: number | string | null;
  readonly numeric_scale: number | string | null;
  readonly is_nullable: string;
  readonly column_default: string | null;
  readonly is_identity: string;
  readonly is_generated: string;
}

/**
 * Reads column definitions from PostgreSQL's `information_schema.columns` (type, length,
 * precision, nullability, defaults) for the validation module's schema-versus-table check.
 *
 * @throws TypeError when `backend` has no `query` method or an option is invalid.
 * @example
 * ```ts
 * import { assertSchemaMatchesTable } from 'flowproof/validation';
 * import { createPostgresBackend, createPostgresColumnReader } from 'flowproof/adapters/postgres';
 *
 * const backend = createPostgresBackend({ client: pool });
 * await assertSchemaMatchesTable(CreateProduct, createPostgresColumnReader(backend), 'products');
 * ```
 */
export function createPostgresColumnReader(
  backend: Pick<PostgresBackend, 'query'>,
  options: PostgresColumnReaderOptions = {},
): ColumnReader {
  if (typeof backend?.query !== 'function') {
    throw new TypeError('backend must be a PostgreSQL backend (createPostgresBackend)');
  }
  assertOptionsObject(options, 'options');
  if (options.schema !== undefined) assertNonEmptyString(options.schema, 'options.schema');
  const schema = options.schema ?? null;
  return {
    async readColumns(table: string): Promise<readonly ColumnDefinition[]> {
      assertNonEmptyString(table, 'table');
      const rows = await backend.query<InformationSchemaRow>(
        `SELECT column_name, data_type, udt_name, character_maximum_length, numeric_precision,
                numeric_scale, is_nullable, column_default, is_identity, is_generated
           FROM information_schema.columns
          WHERE table_schema = COALESCE($2::text, current_schema()) AND table_name = $1
          ORDER BY ordinal_position`,
        [table, schema],
      );
      return rows.map((row) => {
        const type =
          row.data_type === 'ARRAY'
            ? `${row.udt_name.replace(/^_/, '')}[]`
            : row.data_type === 'USER-DEFINED'
              ? row.udt_name
              : row.data_type;
        const decimal = row.data_type === 'numeric';
        return {
          name: row.column_name,
          type,
          ...(row.character_maximum_length === null
            ? {}
            : { maxLength: Number(row.character_maximum_length) }),
          ...(decimal && row.numeric_precision !== null
            ? { precision: Number(row.numeric_precision), scale: Number(row.numeric_scale ?? 0) }
            : {}),
          nullable: row.is_nullable === 'YES',
          hasDefault:
            row.column_default !== null ||
            row.is_identity === 'YES' ||
            row.is_generated === 'ALWAYS',
        };
      });
    },
  };
}
