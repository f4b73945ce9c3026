import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithPostgres } from '../../../test/support/services.js';
import { createAuditLog, createHmacSigner } from '../../audit/index.js';
import { isFlowproofError } from '../../core/errors.js';
import { createPostgresAuditPartitions, createPostgresAuditStore } from './postgres-audit-store.js';
import { createPostgresBackend, type PostgresBackend } from './postgres-backend.js';

describeWithPostgres('PostgreSQL audit store partitioned by month', (url) => {
  let pool: pg.Pool;
  let backend: PostgresBackend;
  const schema = 'audit_partitions_test';

  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: url, max: 4 });
    await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await pool.query(`CREATE SCHEMA ${schema}`);
    backend = createPostgresBackend({ client: pool, schema });
  });
  afterAll(async () => {
    await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await backend.close();
    await pool.end();
  });

  it('chains, verifies and archives across monthly partitions, and stays append-only', async () => {
    const store = createPostgresAuditStore({ backend, partitionByMonth: true });
    await store.migrate();
    const now = await store.now();
    const lastMonth = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1));
    const created = await createPostgresAuditPartitions({ backend, months: 3, from: lastMonth });
    expect(created).toHaveLength(3);
    // Existing partitions are skipped.
    expect(await createPostgresAuditPartitions({ backend, months: 2, from: lastMonth })).toEqual(
      [],
    );
    const signer = createHmacSigner({ keyId: 'k', secret: 's'.repeat(32) });
    const audit = createAuditLog({ store, checkpoints: { signer } });
    for (let i = 0; i < 20; i++) {
      await audit.record({ action: 'user.updated', resource: { type: 'user', id: `u-${i}` } });
    }
    // The rows sit in this month's partition, not the default one.
    const month = now.toISOString().slice(0, 7).replace('-', '_');
    const [counted] = await backend.query<{ n: string }>(
      `SELECT count(*) AS n FROM ${backend.table(`audit_records_${month}`)}`,
    );
    expect(Number(counted?.n)).toBe(20);
    expect((await audit.verify({ from: 'start' })).ok).toBe(true);
    for (const statement of [
      `UPDATE ${backend.table('audit_records')} SET body = body WHERE seq = 3`,
      `DELETE FROM ${backend.table('audit_records')} WHERE seq = 3`,
      `TRUNCATE ${backend.table(`audit_records_${month}`)}`,
    ]) {
      const error = await backend.execute(statement).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isFlowproofError(error), statement).toBe(true);
      expect(String((error as Error).message) + String((error as Error).cause)).toMatch(
        /append-only/,
      );
    }
    const { records } = await audit.query({ resource: { type: 'user', id: 'u-7' } });
    expect(records.map((r) => r.seq)).toEqual([8]);
    const archived = await audit.archive({ chain: 'global', throughSeq: 12, sink: async () => {} });
    expect(archived.records).toBe(12);
    expect((await audit.verify({ from: 'start' })).chains[0]).toMatchObject({
      ok: true,
      fromSeq: 12,
      records: 8,
    });
  });

  it('refuses a bad partitionByMonth and bad partition options', async () => {
    expect(() => createPostgresAuditStore({ backend, partitionByMonth: 'yes' as never })).toThrow(
      /options\.partitionByMonth/,
    );
    await expect(createPostgresAuditPartitions({ backend, months: 0 })).rejects.toThrow(
      /options\.months/,
    );
  });
});
