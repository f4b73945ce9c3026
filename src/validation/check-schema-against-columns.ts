/**
 * Schema versus SQL columns (the reference's "inconsistent validation" mistake: the API allows 200
 * characters, the database 100). Compares what a schema accepts with what a table's columns
 * declare, and reports every place the schema accepts a value the column would refuse.
 */
import { FlowproofError } from '../core/errors.js';
import {
  assertFunction,
  assertKnownKeys,
  assertNonEmptyString,
  assertOptionsObject,
} from '../core/options.js';
import type { StandardSchemaV1 } from '../core/standard-schema.js';
import type { ColumnDefinition, ColumnReader } from './column-reader.js';
import { type FieldFacts, objectFields, toJsonSchema } from './schema-fields.js';

/**
 * What disagrees:
 *
 * - `missing-table`: the table has no columns (it does not exist);
 * - `missing-column`: a schema field has no column, so its data would be lost;
 * - `string-length`: the schema accepts longer strings than the column holds (or has no limit);
 * - `number-range`: the schema accepts numbers outside an integer or decimal column's range;
 * - `number-integer`: the schema accepts fractions, the column holds integers;
 * - `nullability`: the schema accepts `null`, the column is `NOT NULL`;
 * - `required`: the schema lets the field be left out, the column is `NOT NULL` without a default.
 */
export type ColumnMismatchKind =
  | 'missing-table'
  | 'missing-column'
  | 'string-length'
  | 'number-range'
  | 'number-integer'
  | 'nullability'
  | 'required';

/** One disagreement between a schema field and its column. */
export interface ColumnMismatch {
  /** What disagrees. */
  readonly kind: ColumnMismatchKind;
  /** The schema field (empty for `missing-table`). */
  readonly field: string;
  /** The column the field maps to. */
  readonly column: string;
  /** What the schema allows, in words (`at most 200 characters`). */
  readonly schemaRule: string;
  /** What the column declares (`VARCHAR(100)`, `NOT NULL`). */
  readonly columnRule: string;
  /** One sentence saying all of the above. */
  readonly message: string;
}

/** Options of {@link checkSchemaAgainstColumns} and {@link assertSchemaMatchesTable}. */
export interface ColumnCheckOptions {
  /**
   * Maps a schema field to its column name, e.g. camelCase to snake_case.
   * @default the field name unchanged
   */
  readonly columnName?: (field: string) => string;
  /**
   * Schema fields that are not stored in this table (computed, or stored elsewhere).
   * @default []
   */
  readonly ignore?: readonly string[];
  /**
   * The table's name, used in messages.
   * @default 'table'
   */
  readonly table?: string;
}

/**
 * A schema the column check can read: a zod object schema, any Standard Schema that also
 * implements Standard JSON Schema, or a JSON Schema object describing an object.
 */
export type ColumnCheckSchema = StandardSchemaV1 | Readonly<Record<string, unknown>>;

interface ColumnFacts {
  readonly kind: 'string' | 'integer' | 'decimal' | 'float' | 'boolean' | 'other';
  readonly maxLength?: number | undefined;
  readonly min?: number | undefined;
  readonly max?: number | undefined;
  /** Digits after the decimal point of a `NUMERIC(p, s)`: values are rounded to them. */
  readonly scale?: number | undefined;
}

const INTEGER_RANGES: Readonly<Record<string, readonly [number, number]>> = (() => {
  const int8 = [-128, 127] as const;
  const int16 = [-32_768, 32_767] as const;
  const int32 = [-2_147_483_648, 2_147_483_647] as const;
  const int64 = [-(2 ** 63), 2 ** 63 - 1] as const;
  return {
    tinyint: int8,
    smallint: int16,
    int2: int16,
    smallserial: int16,
    serial2: int16,
    int: int32,
    integer: int32,
    int4: int32,
    mediumint: int32,
    serial: int32,
    serial4: int32,
    bigint: int64,
    int8: int64,
    bigserial: int64,
    serial8: int64,
    'unsigned big int': int64,
  };
})();

/** Reads a declared type: its base name and the numbers in parentheses. */
function classify(column: ColumnDefinition): ColumnFacts {
  const declared = column.type.trim().toLowerCase();
  if (declared.endsWith('[]') || declared === 'array') return { kind: 'other' };
  const match = /^([a-z][a-z0-9_ ]*?)\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?$/.exec(declared);
  const base = match?.[1] ?? declared;
  const first = match?.[2] === undefined ? undefined : Number(match[2]);
  const second = match?.[3] === undefined ? undefined : Number(match[3]);
  const range = INTEGER_RANGES[base];
  if (range) return { kind: 'integer', min: range[0], max: range[1] };
  if (base === 'numeric' || base === 'decimal') {
    const precision = column.precision ?? first;
    if (precision === undefined) return { kind: 'decimal' };
    const scale = column.scale ?? second ?? 0;
    const limit = 10 ** (precision - scale);
    return { kind: 'decimal', min: -limit, max: limit, scale };
  }
  if (/char|clob|text|string/.test(base)) {
    return { kind: 'string', maxLength: column.maxLength ?? first };
  }
  if (/^(real|float|double)/.test(base)) return { kind: 'float' };
  if (base === 'bool' || base === 'boolean') return { kind: 'boolean' };
  return { kind: 'other' };
}

const COLUMN_CHECK_OPTIONS: readonly string[] = ['columnName', 'ignore', 'table'];

function numberRule(field: FieldFacts): string {
  const low = field.minimum ?? Number.NEGATIVE_INFINITY;
  const high = field.maximum ?? Number.POSITIVE_INFINITY;
  const kind = field.types.has('number') ? 'number' : 'integer';
  if (!Number.isFinite(low) && !Number.isFinite(high)) return `any ${kind}`;
  const from = Number.isFinite(low) ? `${field.exclusiveMinimum ? '>' : '≥'} ${low}` : '';
  const to = Number.isFinite(high) ? `${field.exclusiveMaximum ? '<' : '≤'} ${high}` : '';
  return `${kind} ${[from, to].filter(Boolean).join(' and ')}`;
}

/**
 * Compares `schema`'s top-level fields with a table's `columns` and lists every place the schema
 * accepts a value the column would refuse (or, on SQLite, which enforces few declared limits,
 * would store against its declared type). Only that direction is reported: a column stricter than
 * its field is a mismatch, a column more permissive than its field is fine. Columns absent from
 * the schema are not reported. Fields are read on what they accept: what a `.transform()` returns
 * cannot be read from a schema, so a transformed field is checked on its input.
 *
 * @returns the mismatches; empty when the schema and the table agree.
 * @throws TypeError when the schema's fields cannot be read (not an object schema, or a validator
 * that cannot describe itself as JSON Schema) or an option is invalid.
 * @example
 * ```ts
 * const CreateProduct = z.object({ sku: z.string().max(32), description: z.string().max(200) });
 * const columns = await createSqliteColumnReader(backend).readColumns('products');
 * checkSchemaAgainstColumns(CreateProduct, columns, { table: 'products' });
 * // [{ kind: 'string-length', field: 'description', column: 'description',
 * //    schemaRule: 'at most 200 characters', columnRule: 'VARCHAR(100)', message: '…' }]
 * ```
 */
export function checkSchemaAgainstColumns(
  schema: ColumnCheckSchema,
  columns: readonly ColumnDefinition[],
  options: ColumnCheckOptions = {},
): ColumnMismatch[] {
  assertOptionsObject(options, 'options');
  assertKnownKeys(options, COLUMN_CHECK_OPTIONS, 'options');
  if (options.columnName !== undefined) assertFunction(options.columnName, 'options.columnName');
  if (
    options.ignore !== undefined &&
    (!Array.isArray(options.ignore) || options.ignore.some((field) => typeof field !== 'string'))
  ) {
    throw new TypeError('options.ignore must be an array of field names');
  }
  if (options.table !== undefined) assertNonEmptyString(options.table, 'options.table');
  if (!Array.isArray(columns))
    throw new TypeError('columns must be an array of column definitions');
  columns.forEach((column: Partial<ColumnDefinition> | null, index) => {
    if (typeof column?.name !== 'string' || typeof column.type !== 'string') {
      throw new TypeError(`columns[${index}] must be a column definition with a name and a type`);
    }
  });
  const table = options.table ?? 'table';
  const json = toJsonSchema(schema);
  const fields = json ? objectFields(json) : undefined;
  if (!fields) {
    throw new TypeError(
      'schema must be a zod object schema, a Standard JSON Schema object schema or a JSON Schema object',
    );
  }
  if (columns.length === 0) {
    return [
      {
        kind: 'missing-table',
        field: '',
        column: '',
        schemaRule: `${fields.length} fields`,
        columnRule: 'no columns',
        message: `Table ${table} has no columns; it does not exist or cannot be read`,
      },
    ];
  }
  const ignored = new Set(options.ignore ?? []);
  const byName = new Map(columns.map((column) => [column.name, column]));
  const toColumn = options.columnName ?? ((field: string) => field);
  const mismatches: ColumnMismatch[] = [];
  for (const field of fields) {
    if (ignored.has(field.path)) continue;
    const name = toColumn(field.path);
    const column = byName.get(name);
    const report = (kind: ColumnMismatchKind, schemaRule: string, columnRule: string) =>
      mismatches.push({
        kind,
        field: field.path,
        column: name,
        schemaRule,
        columnRule,
        message: `${field.path}: the schema allows ${schemaRule} but column ${table}.${name} is ${columnRule}`,
      });
    if (!column) {
      report('missing-column', 'the field', 'missing (the value would be lost)');
      continue;
    }
    if (field.nullable && !column.nullable) report('nullability', 'null', 'NOT NULL');
    if (!field.required && !column.nullable && !column.hasDefault) {
      report('required', 'leaving it out', 'NOT NULL without a default');
    }
    const facts = classify(column);
    if (
      facts.kind === 'string' &&
      facts.maxLength !== undefined &&
      field.maxLength !== undefined &&
      field.maxLength > facts.maxLength
    ) {
      const allowed = Number.isFinite(field.maxLength)
        ? `${field.maxLength} characters`
        : 'strings of any length';
      report(
        'string-length',
        allowed,
        `${column.type}${column.maxLength !== undefined && !column.type.includes('(') ? `(${column.maxLength})` : ''}`,
      );
    }
    const numeric = field.types.has('number') || field.types.has('integer');
    if (!numeric || field.minimum === undefined || field.maximum === undefined) continue;
    if (facts.kind === 'integer' && field.types.has('number')) {
      report('number-integer', 'fractions', `${column.type} (integers only)`);
    }
    if ((facts.kind === 'integer' || facts.kind === 'decimal') && facts.min !== undefined) {
      const max = facts.max as number;
      // An integer field's exclusive bound is the next integer in (`< 2147483648` is ≤ 2147483647).
      const integral = !field.types.has('number');
      const low = integral && field.exclusiveMinimum ? field.minimum + 1 : field.minimum;
      const high = integral && field.exclusiveMaximum ? field.maximum - 1 : field.maximum;
      let tooLow = low < facts.min;
      let tooHigh = high > max;
      if (facts.kind === 'decimal') {
        // The column rounds to its scale first: NUMERIC(4, 2) stores 99.994 as 99.99, but 99.995
        // rounds to 100.00, which no longer fits.
        const overflow = max - 0.5 * 10 ** -(facts.scale ?? 0);
        tooLow = low <= -overflow;
        tooHigh = high >= overflow;
      }
      if (tooLow || tooHigh) {
        const range =
          facts.kind === 'integer'
            ? `${facts.min} to ${max}`
            : `between ${facts.min} and ${max} (exclusive)`;
        report('number-range', numberRule(field), `${column.type} (${range})`);
      }
    }
  }
  return mismatches;
}

/**
 * Reads `table`'s columns through `reader` and throws when `schema` accepts values they would
 * refuse. Run it in a test or at start-up, next to the migrations.
 *
 * @throws FlowproofError `SCHEMA_COLUMN_MISMATCH` with `details.table` and `details.mismatches`
 * (see {@link ColumnMismatch}); the reader's own codes when it cannot read the table.
 * @throws TypeError when the schema's fields cannot be read or an option is invalid.
 * @example
 * ```ts
 * import { createPostgresColumnReader } from 'flowproof/adapters/postgres';
 *
 * await assertSchemaMatchesTable(CreateProduct, createPostgresColumnReader(backend), 'products', {
 *   columnName: (field) => field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`),
 * });
 * ```
 */
export async function assertSchemaMatchesTable(
  schema: ColumnCheckSchema,
  reader: ColumnReader,
  table: string,
  options: ColumnCheckOptions = {},
): Promise<void> {
  assertNonEmptyString(table, 'table');
  // Checked before the table is read, so a misspelled option fails at once.
  assertOptionsObject(options, 'options');
  assertKnownKeys(options, COLUMN_CHECK_OPTIONS, 'options');
  if (typeof reader?.readColumns !== 'function') {
    throw new TypeError('reader must be a ColumnReader (a readColumns(table) method)');
  }
  const columns = await reader.readColumns(table);
  const mismatches = checkSchemaAgainstColumns(schema, columns, { ...options, table });
  if (mismatches.length === 0) return;
  throw new FlowproofError(
    'SCHEMA_COLUMN_MISMATCH',
    `The schema and table ${table} disagree: ${mismatches.map((m) => m.message).join('; ')}`,
    { details: { table, mismatches } },
  );
}
