import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  assertSchemaMatchesTable,
  type ColumnDefinition,
  checkSchemaAgainstColumns,
  money,
  positiveQuantity,
} from './index.js';

const column = (
  name: string,
  type: string,
  extra: Partial<ColumnDefinition> = {},
): ColumnDefinition => ({ name, type, nullable: false, hasDefault: false, ...extra });

describe('checkSchemaAgainstColumns', () => {
  it("reports the reference's 200-versus-100 description", () => {
    const schema = z.object({ description: z.string().max(200) });
    const mismatches = checkSchemaAgainstColumns(schema, [column('description', 'VARCHAR(100)')], {
      table: 'products',
    });
    expect(mismatches).toEqual([
      {
        kind: 'string-length',
        field: 'description',
        column: 'description',
        schemaRule: '200 characters',
        columnRule: 'VARCHAR(100)',
        message:
          'description: the schema allows 200 characters but column products.description is VARCHAR(100)',
      },
    ]);
  });

  it('reads lengths reported apart from the type (PostgreSQL) and unbounded strings', () => {
    const schema = z.object({
      a: z.string().max(50),
      b: z.string(),
      c: z.string(),
      d: z.enum(['ab', 'abcdef']),
    });
    const columns = [
      column('a', 'character varying', { maxLength: 40 }),
      column('b', 'character varying', { maxLength: 40 }),
      column('c', 'text'),
      column('d', 'char(4)'),
    ];
    expect(checkSchemaAgainstColumns(schema, columns).map((m) => [m.field, m.columnRule])).toEqual([
      ['a', 'character varying(40)'],
      ['b', 'character varying(40)'],
      ['d', 'char(4)'],
    ]);
    expect(checkSchemaAgainstColumns(schema, columns)[1]?.schemaRule).toBe('strings of any length');
  });

  it('bounds fixed-length formats, integer exclusive bounds and decimal rounding exactly', () => {
    const schema = z.object({
      id: z.uuid(),
      ref: z.ulid(),
      count: z.int().gte(0).lt(2_147_483_648),
      over: z.int().gte(0).lt(2_147_483_649),
      price: z.number().gte(0).lte(99.994),
      rounded: z.number().gte(0).lte(99.995),
    });
    const columns = [
      column('id', 'VARCHAR(36)'),
      column('ref', 'CHAR(25)'),
      column('count', 'INTEGER'),
      column('over', 'INTEGER'),
      column('price', 'NUMERIC(4,2)'),
      column('rounded', 'NUMERIC(4,2)'),
    ];
    expect(checkSchemaAgainstColumns(schema, columns).map((m) => [m.field, m.kind])).toEqual([
      ['ref', 'string-length'],
      ['over', 'number-range'],
      ['rounded', 'number-range'],
    ]);
  });

  it('names the option or column definition it cannot use', () => {
    const schema = z.object({ a: z.string().max(5) });
    const columns = [column('a', 'TEXT')];
    expect(() =>
      checkSchemaAgainstColumns(schema, columns, { ignore: 'a' as unknown as string[] }),
    ).toThrow(/options.ignore/);
    expect(() => checkSchemaAgainstColumns(schema, columns, { ignore: [5 as never] })).toThrow(
      /options.ignore/,
    );
    expect(() => checkSchemaAgainstColumns(schema, columns, { table: 5 as never })).toThrow(
      /options.table/,
    );
    expect(() => checkSchemaAgainstColumns(schema, [{ name: 'a' } as never])).toThrow(
      /columns\[0\] must be a column definition/,
    );
  });

  it('compares integer bounds with integer column ranges, and integrality', () => {
    const schema = z.object({
      qty: positiveQuantity({ max: 1000 }),
      stock: z.int().min(0),
      big: z.int(),
      ratio: z.number().min(0).max(1),
      cents: money().shape.amount,
    });
    const columns = [
      column('qty', 'SMALLINT'),
      column('stock', 'integer'),
      column('big', 'bigint'),
      column('ratio', 'INTEGER'),
      column('cents', 'int4'),
    ];
    expect(checkSchemaAgainstColumns(schema, columns).map((m) => [m.kind, m.field])).toEqual([
      ['number-range', 'stock'],
      ['number-integer', 'ratio'],
      ['number-range', 'cents'],
    ]);
    const [stock] = checkSchemaAgainstColumns(schema, columns);
    expect(stock?.schemaRule).toBe('integer ≥ 0 and ≤ 9007199254740991');
    expect(stock?.columnRule).toBe('integer (-2147483648 to 2147483647)');
  });

  it('compares number bounds with decimal precision', () => {
    const schema = z.object({ price: z.number().min(0).max(99_999_999.99), total: z.number() });
    const columns = [
      column('price', 'NUMERIC(10,2)'),
      column('total', 'numeric', { precision: 8, scale: 2 }),
    ];
    expect(checkSchemaAgainstColumns(schema, columns).map((m) => [m.kind, m.field])).toEqual([
      ['number-range', 'total'],
    ]);
  });

  it('checks nullability and required columns', () => {
    const schema = z.object({
      a: z.string().nullable(),
      b: z.string().optional(),
      c: z.string().optional(),
      d: z.string().default('x'),
      e: z.string().nullable(),
    });
    const columns = [
      column('a', 'text'),
      column('b', 'text'),
      column('c', 'text', { hasDefault: true }),
      column('d', 'text'),
      column('e', 'text', { nullable: true }),
    ];
    expect(checkSchemaAgainstColumns(schema, columns).map((m) => [m.kind, m.field])).toEqual([
      ['nullability', 'a'],
      ['required', 'b'],
    ]);
  });

  it('reports fields without a column, maps names and ignores fields', () => {
    const schema = z.object({ createdAt: z.string().max(30), computed: z.number() });
    const columns = [column('created_at', 'varchar(30)')];
    expect(checkSchemaAgainstColumns(schema, columns).map((m) => m.kind)).toEqual([
      'missing-column',
      'missing-column',
    ]);
    const snake = (field: string) => field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    expect(
      checkSchemaAgainstColumns(schema, columns, { columnName: snake, ignore: ['computed'] }),
    ).toEqual([]);
    expect(checkSchemaAgainstColumns(schema, [])).toMatchObject([{ kind: 'missing-table' }]);
  });

  it('accepts JSON Schema objects and leaves unknown column types alone', () => {
    const json = {
      type: 'object',
      properties: { name: { type: 'string', maxLength: 10 }, tags: { type: 'array' } },
      required: ['name', 'tags'],
    };
    const columns = [column('name', 'VARCHAR(5)'), column('tags', 'jsonb')];
    expect(checkSchemaAgainstColumns(json, columns).map((m) => m.kind)).toEqual(['string-length']);
    expect(() => checkSchemaAgainstColumns(z.string(), columns)).toThrow(/zod object schema/);
    expect(() => checkSchemaAgainstColumns(z.object({}), 'x' as never)).toThrow(/columns must be/);
  });

  it('assertSchemaMatchesTable throws SCHEMA_COLUMN_MISMATCH with the list', async () => {
    const reader = { readColumns: async () => [column('description', 'VARCHAR(100)')] };
    const schema = z.object({ description: z.string().max(200) });
    const error = await assertSchemaMatchesTable(schema, reader, 'products').catch((e) => e);
    expect(error).toMatchObject({
      code: 'SCHEMA_COLUMN_MISMATCH',
      details: { table: 'products', mismatches: [{ kind: 'string-length', field: 'description' }] },
    });
    await expect(
      assertSchemaMatchesTable(z.object({ description: z.string().max(100) }), reader, 'products'),
    ).resolves.toBeUndefined();
    await expect(assertSchemaMatchesTable(schema, {} as never, 'products')).rejects.toThrow(
      /reader must be a ColumnReader/,
    );
  });
});
