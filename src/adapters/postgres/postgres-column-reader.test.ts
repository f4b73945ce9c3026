import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { describeColumnReaderConformance } from '../../../test/conformance/column-reader.case.js';
import { describeWithPostgres } from '../../../test/support/services.js';
import { uniqueNamespace } from '../../testing/index.js';
import { createPostgresBackend } from './postgres-backend.js';
import { createPostgresColumnReader } from './postgres-column-reader.js';

describeColumnReaderConformance('PostgreSQL (PGlite)', async () => {
  const backend = createPostgresBackend({ client: new PGlite(), ownsClient: true });
  return {
    reader: createPostgresColumnReader(backend),
    createTable: async (name, columns) => {
      await backend.execute(`CREATE TABLE "${name}" (${columns})`);
    },
    close: () => backend.close(),
  };
});

describeWithPostgres('PostgreSQL server', (url) => {
  describeColumnReaderConformance('PostgreSQL (pg.Pool)', async () => {
    const schema = uniqueNamespace('cols');
    const pool = new pg.Pool({ connectionString: url, max: 2 });
    const backend = createPostgresBackend({ client: pool, ownsClient: true });
    await backend.execute(`CREATE SCHEMA "${schema}"`);
    return {
      reader: createPostgresColumnReader(backend, { schema }),
      createTable: async (name, columns) => {
        await backend.execute(`CREATE TABLE "${schema}"."${name}" (${columns})`);
      },
      close: async () => {
        await backend.execute(`DROP SCHEMA "${schema}" CASCADE`);
        await backend.close();
      },
    };
  });
});

describe('createPostgresColumnReader', () => {
  it('reports lengths, precisions, arrays, enums and identity columns', async () => {
    const backend = createPostgresBackend({ client: new PGlite(), ownsClient: true });
    await backend.execute("CREATE TYPE mood AS ENUM ('happy', 'sad')");
    await backend.execute(
      `CREATE TABLE t (
         id bigint GENERATED ALWAYS AS IDENTITY,
         code char(3) NOT NULL,
         amount numeric(12, 4),
         tags text[] NOT NULL DEFAULT '{}',
         feeling mood
       )`,
    );
    expect(await createPostgresColumnReader(backend).readColumns('t')).toEqual([
      { name: 'id', type: 'bigint', nullable: false, hasDefault: true },
      { name: 'code', type: 'character', maxLength: 3, nullable: false, hasDefault: false },
      {
        name: 'amount',
        type: 'numeric',
        precision: 12,
        scale: 4,
        nullable: true,
        hasDefault: false,
      },
      { name: 'tags', type: 'text[]', nullable: false, hasDefault: true },
      { name: 'feeling', type: 'mood', nullable: true, hasDefault: false },
    ]);
    expect(await createPostgresColumnReader(backend, { schema: 'other' }).readColumns('t')).toEqual(
      [],
    );
    expect(() => createPostgresColumnReader({} as never)).toThrow(/backend/);
    expect(() => createPostgresColumnReader(backend, { schema: '' })).toThrow(/options.schema/);
    await backend.close();
  });
});
