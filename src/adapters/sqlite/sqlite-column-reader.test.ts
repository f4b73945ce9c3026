import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { describeColumnReaderConformance } from '../../../test/conformance/column-reader.case.js';
import { createSqliteBackend } from './sqlite-backend.js';
import { createSqliteColumnReader } from './sqlite-column-reader.js';

describeColumnReaderConformance('SQLite (better-sqlite3)', async () => {
  const backend = createSqliteBackend({ database: new Database(':memory:'), ownsDatabase: true });
  return {
    reader: createSqliteColumnReader(backend),
    createTable: async (name, columns) => {
      await backend.execute(`CREATE TABLE "${name}" (${columns})`);
    },
    close: () => backend.close(),
  };
});

describe('createSqliteColumnReader', () => {
  it('reports declared types as written, and INTEGER PRIMARY KEY as filled by SQLite', async () => {
    const backend = createSqliteBackend({ database: new Database(':memory:') });
    await backend.execute('CREATE TABLE t (id INTEGER PRIMARY KEY, name NVARCHAR(40) NOT NULL)');
    expect(await createSqliteColumnReader(backend).readColumns('t')).toEqual([
      { name: 'id', type: 'INTEGER', nullable: true, hasDefault: true },
      { name: 'name', type: 'NVARCHAR(40)', nullable: false, hasDefault: false },
    ]);
  });

  it('reads attached databases and checks its arguments', async () => {
    const backend = createSqliteBackend({ database: new Database(':memory:') });
    await backend.execute("ATTACH DATABASE ':memory:' AS other");
    await backend.execute('CREATE TABLE other.t (a TEXT)');
    expect(await createSqliteColumnReader(backend).readColumns('t')).toEqual([]);
    expect(
      await createSqliteColumnReader(backend, { schema: 'other' }).readColumns('t'),
    ).toHaveLength(1);
    expect(() => createSqliteColumnReader({} as never)).toThrow(/backend/);
    expect(() => createSqliteColumnReader(backend, { schema: '' })).toThrow(/options.schema/);
    await expect(createSqliteColumnReader(backend).readColumns('')).rejects.toThrow(/table/);
  });
});
