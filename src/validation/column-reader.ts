/**
 * The port through which the schema-versus-table check reads a table's column definitions. The
 * SQLite and PostgreSQL adapters implement it (`createSqliteColumnReader`,
 * `createPostgresColumnReader`); any other source (a migration tool's model, a hand-written list)
 * can too.
 */

/** One column of a table, as the database declares it. */
export interface ColumnDefinition {
  /** The column's name. */
  readonly name: string;
  /**
   * The declared type, as the database reports it: `VARCHAR(100)` and `INTEGER` on SQLite,
   * `character varying`, `integer`, `numeric` on PostgreSQL. Lengths and precisions written in
   * parentheses are read from it when the fields below are absent.
   */
  readonly type: string;
  /** Maximum length in characters, when reported apart from `type`. */
  readonly maxLength?: number;
  /** Total significant digits of a decimal column, when reported apart from `type`. */
  readonly precision?: number;
  /** Digits after the decimal point of a decimal column, when reported apart from `type`. */
  readonly scale?: number;
  /** False for `NOT NULL` columns. */
  readonly nullable: boolean;
  /** True when the database fills the column when an insert leaves it out (default, identity). */
  readonly hasDefault: boolean;
}

/** Reads a table's column definitions. */
export interface ColumnReader {
  /**
   * The columns of `table` in declaration order; empty when the table does not exist.
   *
   * @throws FlowproofError the backend's codes (`BACKEND_UNAVAILABLE`, `BACKEND_ERROR`…).
   */
  readColumns(table: string): Promise<readonly ColumnDefinition[]>;
}
