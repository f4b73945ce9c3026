/**
 * Field encryption against a real PostgreSQL: keys in the PostgreSQL data-key store, shredding
 * with its audit record in one transaction (commit and rollback), and the rewrap source's keyset
 * pages and batched compare-and-set writes over several key types.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  createPostgresAuditStore,
  createPostgresBackend,
  createPostgresDataKeyStore,
  type PostgresBackend,
  type PostgresDataKeyStore,
} from '../../src/adapters/postgres/index.js';
import { type AuditLog, createAuditLog } from '../../src/audit/audit-log.js';
import {
  createFieldEncryption,
  type FieldEncryption,
} from '../../src/privacy/encryption/field-encryption.js';
import { createLocalKeyProvider } from '../../src/privacy/encryption/local-key-provider.js';
import { createPostgresRewrapSource } from '../../src/privacy/encryption/sql-rewrap-source.js';
import { describeWithPostgres } from '../support/services.js';

const keyMaterial = randomBytes(32);
const keyProvider = createLocalKeyProvider({ keys: { k1: keyMaterial }, current: 'k1' });

describeWithPostgres('field encryption on PostgreSQL', (url) => {
  let pool: pg.Pool;
  let backend: PostgresBackend;
  let store: PostgresDataKeyStore;
  let audit: AuditLog<PostgresBackend>;
  const schema = 'privacy_encryption_test';

  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: url, max: 3 });
    await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await pool.query(`CREATE SCHEMA ${schema}`);
    backend = createPostgresBackend({ client: pool, schema });
    store = createPostgresDataKeyStore({ backend });
    await store.migrate();
    const auditStore = createPostgresAuditStore({ backend });
    await auditStore.migrate();
    audit = createAuditLog({ store: auditStore });
  });

  afterAll(async () => {
    await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await backend.close();
    await pool.end();
  });

  function encryptionOf(cacheTtlMs = 60_000): FieldEncryption {
    return createFieldEncryption({ store, keyProvider, cacheTtlMs });
  }

  /** The audit records about `subject`'s key. */
  async function shredRecords(subject: string) {
    const { records } = await audit.query({ resource: { type: 'data-subject', id: subject } });
    return records;
  }

  it('shreds in the caller’s transaction with its audit record: both commit', async () => {
    const encryption = encryptionOf();
    const other = encryptionOf(0);
    const context = { table: 'users', column: 'email', row: '1', subject: 'pg-ana' };
    const stored = await encryption.encrypt('ana@example.com', context);
    expect(await other.decrypt(stored, context)).toBe('ana@example.com');
    const receipt = await backend.transaction((tx) =>
      encryption.shred('pg-ana', {
        audit,
        transaction: tx,
        actor: { id: 'dpo' },
        reason: 'request 1',
      }),
    );
    expect(receipt).toMatchObject({
      subject: 'pg-ana',
      keyId: encryption.keyIdOf(stored),
      alreadyShredded: false,
    });
    const records = await shredRecords('pg-ana');
    expect(records).toHaveLength(1);
    expect(receipt.auditRecordId).toBe(`${records[0]?.chain}:${records[0]?.seq}`);
    expect(records[0]).toMatchObject({
      action: 'privacy.subject-key.shredded',
      subject: 'pg-ana',
      reason: 'request 1',
    });
    for (const instance of [encryption, other]) {
      await expect(instance.decrypt(stored, context)).rejects.toMatchObject({
        code: 'KEY_SHREDDED',
        details: { subject: 'pg-ana', keyId: receipt.keyId, shreddedAt: receipt.shreddedAt },
      });
    }
    const row = await store.byName('subject', 'pg-ana');
    expect(row).toMatchObject({ wrapped: null, kekId: null });
    expect(await encryption.shred('pg-ana')).toMatchObject({
      alreadyShredded: true,
      shreddedAt: receipt.shreddedAt,
    });
  });

  it('shreds in the caller’s transaction: a rollback undoes both, the data still reads', async () => {
    const encryption = encryptionOf();
    const context = { table: 'users', column: 'email', row: '2', subject: 'pg-bob' };
    const stored = await encryption.encrypt('bob@example.com', context);
    await expect(
      backend.transaction(async (tx) => {
        await encryption.shred('pg-bob', { audit, transaction: tx });
        throw new Error('the erasure workflow failed');
      }),
    ).rejects.toThrow('the erasure workflow failed');
    expect(await shredRecords('pg-bob')).toHaveLength(0);
    expect(await encryption.isShredded('pg-bob')).toBe(false);
    expect(await encryption.decrypt(stored, context)).toBe('bob@example.com');
  });

  it('a key read while its shred is still uncommitted is not cached past the commit', async () => {
    const encryption = encryptionOf();
    const context = { table: 'users', column: 'email', row: '3', subject: 'pg-cy' };
    const stored = await encryption.encrypt('cy@example.com', context);
    await backend.transaction(async (tx) => {
      await encryption.shred('pg-cy', { transaction: tx });
      // Outside the transaction the key is still there: it reads, but must not be cached.
      expect(await encryption.decrypt(stored, context)).toBe('cy@example.com');
    });
    await expect(encryption.decrypt(stored, context)).rejects.toMatchObject({
      code: 'KEY_SHREDDED',
    });
  });

  it('rotates, retires and rotates the key-encryption key on the PostgreSQL store', async () => {
    const encryption = encryptionOf();
    const context = { table: 'orders', column: 'card', row: '9' };
    const stored = await encryption.encrypt('4111 1111 1111 1111', context);
    const { keyId } = await encryption.rotate();
    expect(encryption.keyIdOf(await encryption.encrypt('x', context))).toBe(keyId);
    const second = randomBytes(32);
    const rotating = createFieldEncryption({
      store,
      keyProvider: createLocalKeyProvider({ keys: { k1: keyMaterial, k2: second }, current: 'k2' }),
    });
    const result = await rotating.rotateKeyEncryptionKey({ batchSize: 2 });
    expect(result.rewrapped).toBeGreaterThan(0);
    const onlyNew = createFieldEncryption({
      store,
      keyProvider: createLocalKeyProvider({ keys: { k2: second }, current: 'k2' }),
    });
    expect(await onlyNew.decrypt(stored, context)).toBe('4111 1111 1111 1111');
    await onlyNew.retire(encryption.keyIdOf(stored));
    await expect(onlyNew.decrypt(stored, context)).rejects.toMatchObject({ code: 'KEY_RETIRED' });
    // Back to k1 for the other tests.
    await createFieldEncryption({
      store,
      keyProvider: createLocalKeyProvider({ keys: { k1: keyMaterial, k2: second }, current: 'k1' }),
    }).rotateKeyEncryptionKey();
  });

  for (const [type, keyOf] of [
    ['bigint', (i: number) => String(i * 1000)],
    ['uuid', () => randomUUID()],
    ['text', (i: number) => `user-${String(i).padStart(4, '0')}`],
  ] as const) {
    it(`rewraps a column keyed by ${type}, in batches, leaving concurrent writes alone`, async () => {
      const encryption = encryptionOf();
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
