/**
 * The conformance cases of the validation module's `ColumnReader` port, run against each SQL
 * adapter on a real database: the reader must report declared types, lengths, precisions,
 * nullability and defaults well enough for `checkSchemaAgainstColumns` to find the reference's
 * "API allows 200, database allows 100" mistake.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  assertSchemaMatchesTable,
  type ColumnReader,
  checkSchemaAgainstColumns,
  positiveQuantity,
  updateSchemaFrom,
} from '../../src/validation/index.js';

/** A database to run the cases on. */
export interface ColumnReaderTarget {
  /** The reader under test. */
  readonly reader: ColumnReader;
  /** Creates table `name` with the given column list (a SQL fragment). */
  createTable(name: string, columns: string): Promise<void>;
  /** Releases the database. */
  close(): Promise<void>;
}

/** SQL both SQLite and PostgreSQL accept. */
const PRODUCTS = `
  id INTEGER PRIMARY KEY,
  sku VARCHAR(32) NOT NULL,
  description VARCHAR(100),
  quantity SMALLINT NOT NULL,
  price NUMERIC(10,2) NOT NULL,
  stock INTEGER NOT NULL DEFAULT 0,
  notes TEXT`;

/** The schema the API would use: too permissive in several places. */
const CreateProductTooLoose = z.object({
  sku: z.string().max(32).optional(),
  description: z.string().max(200),
  quantity: positiveQuantity(),
  price: z.number().positive(),
  stock: z.int().min(0).max(1_000_000).optional(),
  notes: z.string().nullable(),
  internalScore: z.number(),
});

const CreateProduct = z.object({
  sku: z.string().max(32),
  description: z.string().max(100).nullable(),
  quantity: positiveQuantity({ max: 10_000 }),
  price: z.number().positive().max(99_999_999),
  stock: z.int().min(0).max(1_000_000).optional(),
  notes: z.string().nullable(),
});

/** Registers the cases for one adapter. */
export function describeColumnReaderConformance(
  name: string,
  open: () => Promise<ColumnReaderTarget>,
): void {
  describe(`ColumnReader conformance: ${name}`, () => {
    let target: ColumnReaderTarget;
    beforeAll(async () => {
      target = await open();
      await target.createTable('products', PRODUCTS);
    });
    afterAll(() => target?.close());

    it('reads names, nullability and defaults in declaration order', async () => {
      const columns = await target.reader.readColumns('products');
      expect(columns.map((c) => [c.name, c.nullable, c.hasDefault])).toEqual([
        ['id', expect.any(Boolean), expect.any(Boolean)],
        ['sku', false, false],
        ['description', true, false],
        ['quantity', false, false],
        ['price', false, false],
        ['stock', false, true],
        ['notes', true, false],
      ]);
    });

    it('finds every place the API schema accepts what the table refuses', async () => {
      const columns = await target.reader.readColumns('products');
      const found = checkSchemaAgainstColumns(CreateProductTooLoose, columns, {
        table: 'products',
      });
      expect(found.map((m) => [m.kind, m.field])).toEqual([
        ['required', 'sku'],
        ['string-length', 'description'],
        ['number-range', 'quantity'],
        ['number-range', 'price'],
        ['missing-column', 'internalScore'],
      ]);
      expect(found[1]?.message).toMatch(
        /^description: the schema allows 200 characters but column products\.description is (VARCHAR\(100\)|character varying\(100\))$/,
      );
    });

    it('accepts a schema that agrees with the table, and its derived update schema', async () => {
      await expect(
        assertSchemaMatchesTable(CreateProduct, target.reader, 'products'),
      ).resolves.toBeUndefined();
      const columns = await target.reader.readColumns('products');
      // An update never has to name every field: the required check does not apply to it, the
      // length and range rules do.
      const update = checkSchemaAgainstColumns(updateSchemaFrom(CreateProduct), columns);
      expect(update.every((m) => m.kind === 'required')).toBe(true);
    });

    it('reports a missing table', async () => {
      const error = await assertSchemaMatchesTable(CreateProduct, target.reader, 'nope').catch(
        (e: unknown) => e,
      );
      expect(error).toMatchObject({
        code: 'SCHEMA_COLUMN_MISMATCH',
        details: { table: 'nope', mismatches: [{ kind: 'missing-table' }] },
      });
    });
  });
}
