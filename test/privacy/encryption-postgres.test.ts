/**
 * Field encryption against a real PostgreSQL: the rewrap source's keyset pages and batched
 * compare-and-set writes over several key types.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createMemoryBackend, createMemoryDataKeyStore } from '../../src/adapters/memory/index.js';
import { createPostgresBackend, type PostgresBackend } from '../../src/adapters/postgres/index.js';
import {
  createFieldEncryption,
  type FieldEncryption,
} from '../../src/privacy/encryption/field-encryption.js';
import { createLocalKeyProvider } from '../../src/privacy/encryption/local-key-provider.js';
import { createPostgresRewrapSource } from '../../src/privacy/encryption/sql-rewrap-source.js';
import { describeWithPostgres } from '../support/services.js';

const keyProvider = createLocalKeyProvider({ keys: { k1: randomBytes(32) }, current: 'k1' });

describeWithPostgres('field encryption on PostgreSQL: rewrap source', (url) => {
  let pool: pg.Pool;
  let backend: PostgresBackend;
  const schema = 'privacy_encryption_test';

  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: url, max: 3 });
    await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await pool.query(`CREATE SCHEMA ${schema}`);
    backend = createPostgresBackend({ client: pool, schema });
  });

  afterAll(async () => {
    await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await backend.close();
    await pool.end();
  });

  async function memoryEncryption(): Promise<FieldEncryption> {
    const store = createMemoryDataKeyStore({ backend: createMemoryBackend() });
    await store.migrate();
    return createFieldEncryption({ store, keyProvider });
  }

  for (const [type, keyOf] of [
    ['bigint', (i: number) => String(i * 1000)],
    ['uuid', () => randomUUID()],
    ['text', (i: number) => `user-${String(i).padStart(4, '0')}`],
  ] as const) {
    it(`rewraps a column keyed by ${type}, in batches, leaving concurrent writes alone`, async () => {
      const encryption = await memoryEncryption();
      const table = `users_${type}`;
      await pool.query(`CREATE TABLE ${schema}.${table} (id ${type} PRIMARY KEY, email text)`);
      const context = (id: string) => ({ table: 'users', column: 'email', row: id });
      const ids = Array.from({ length: 57 }, (_, i) => keyOf(i + 1));
      for (const id of ids) {
        await pool.query(`INSERT INTO ${schema}.${table} (id, email) VALUES ($1, $2)`, [
          id,
          await encryption.encrypt(`mail-${id}`, context(id)),
        ]);
      }
      await pool.query(`INSERT INTO ${schema}.${table} (id, email) VALUES ($1, NULL)`, [
        keyOf(999),
      ]);
      const { keyId } = await encryption.rotate();
      const source = createPostgresRewrapSource({
        backend,
        table: `${schema}.${table}`,
        keyColumn: 'id',
        column: 'email',
        context: (row) => context(String(row.id)),
      });
      // A write lands between the first page's read and its update.
      const raced = [...ids].sort()[0] as string;
      const racing = {
        page: source.page,
        update: async (rows: Parameters<typeof source.update>[0]) => {
          if (rows.some((row) => row.cursor === raced)) {
            await pool.query(`UPDATE ${schema}.${table} SET email = $1 WHERE id = $2`, [
              await encryption.encrypt('written meanwhile', context(raced)),
              raced,
            ]);
          }
          return source.update(rows);
        },
      };
      const report = await encryption.rewrap(racing, { job: `pg-${type}`, batchSize: 10 });
      expect(report).toMatchObject({
        scanned: 57,
        rewrapped: 56,
        conflicts: 1,
        unreadable: 0,
        keyId,
      });
      const { rows } = await pool.query<{ id: string; email: string }>(
        `SELECT id::text AS id, email FROM ${schema}.${table} WHERE email IS NOT NULL`,
      );
      for (const row of rows) {
        expect(encryption.keyIdOf(row.email)).toBe(keyId);
        expect(await encryption.decrypt(row.email, context(row.id))).toBe(
          row.id === raced ? 'written meanwhile' : `mail-${row.id}`,
        );
      }
    });
  }
});
