import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithPostgres } from '../../../test/support/services.js';
import { createPostgresBackend, type PostgresBackend } from './postgres-backend.js';
import { createPostgresLineageStore, type PostgresLineageStore } from './postgres-lineage-store.js';

/** A node of `EXPLAIN (FORMAT JSON)`. */
interface PlanNode {
  readonly 'Node Type': string;
  readonly 'Index Name'?: string;
  readonly Plans?: readonly PlanNode[];
}

function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)];
}

describeWithPostgres('PostgreSQL lineage store query plans', (url) => {
  let pool: pg.Pool;
  let backend: PostgresBackend;
  let store: PostgresLineageStore;
  const schema = 'lineage_plans_test';
  const sent: { sql: string; params: readonly unknown[] }[] = [];

  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: url, max: 2 });
    await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await pool.query(`CREATE SCHEMA ${schema}`);
    backend = createPostgresBackend({ client: pool, schema });
    store = createPostgresLineageStore({ backend });
    await store.migrate();
    const table = backend.table('lineage_records');
    // 100,000 value records of 1,000 entities × 5 fields, and 20,000 runs.
    await backend.execute(`INSERT INTO ${table}
      (id, kind, entity, field, correlation_id, recorded_at, body)
      SELECT lpad(to_hex(g), 26, '0'), 'value', 'order:' || (g % 1000), 'f' || (g % 5),
             'c' || (g % 5000), 1700000000000 + g, '{}'
        FROM generate_series(1, 100000) g`);
    await backend.execute(`INSERT INTO ${table}
      (id, kind, job, run_id, correlation_id, recorded_at, body)
      SELECT '1' || lpad(to_hex(g), 25, '0'), 'run', 'job', 'r', 'c' || (g % 5000),
             1700000000000 + g, '{}'
        FROM generate_series(1, 20000) g`);
    await backend.execute(`ANALYZE ${table}`);
    // Every statement the store sends, to explain it as sent.
    const query = backend.query.bind(backend);
    backend.query = ((sql: string, params: readonly unknown[] = []) => {
      sent.push({ sql, params });
      return query(sql, params);
    }) as typeof backend.query;
    const execute = backend.execute.bind(backend);
    backend.execute = ((sql: string, params: readonly unknown[] = []) => {
      sent.push({ sql, params });
      return execute(sql, params);
    }) as typeof backend.execute;
  }, 60_000);
  afterAll(async () => {
    await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await backend.close();
    await pool.end();
  });

  /** The plan of the statement `call` sends, run in a transaction rolled back after. */
  async function planOf(call: () => Promise<unknown>): Promise<PlanNode[]> {
    sent.length = 0;
    await call();
    const [statement] = sent;
    if (statement === undefined) throw new Error('no statement sent');
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(`SET LOCAL search_path TO ${schema}`);
      const { rows } = await client.query(`EXPLAIN (FORMAT JSON) ${statement.sql}`, [
        ...statement.params,
      ]);
      return nodes(rows[0]['QUERY PLAN'][0].Plan);
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
  }

  it('latest() is one probe of the field index, newest first, no sort', async () => {
    for (const at of [undefined, 1700000050000]) {
      const plan = await planOf(() => store.latest('order:7', 'f2', at));
      expect(plan.map((n) => n['Node Type'])).toEqual(['Limit', 'Index Scan']);
      expect(plan[1]?.['Index Name']).toBe('flowproof_lineage_records_field');
    }
  });

  it('purge() selects the oldest rows from the time index and deletes them by primary key', async () => {
    const plan = await planOf(() => store.purge({ before: 1700000001000, limit: 500 }));
    const types = plan.map((n) => n['Node Type']);
    expect(types).not.toContain('Seq Scan');
    expect(types).not.toContain('Hash Join');
    expect(plan.map((n) => n['Index Name']).filter(Boolean)).toEqual([
      'flowproof_lineage_records_time',
      'flowproof_lineage_records_pkey',
    ]);
  });

  it('history and correlation pages read their index, never the whole table', async () => {
    const before = { recordedAt: 1700000050000, id: '0'.repeat(26) };
    const pages = [
      () => store.history({ entity: 'order:7', field: 'f2', limit: 10 }),
      () => store.history({ entity: 'order:7', field: 'f2', before, limit: 10 }),
      () => store.byCorrelation({ correlationId: 'c7', kind: 'run', limit: 10 }),
      () => store.byCorrelation({ correlationId: 'c7', after: before, limit: 10 }),
    ];
    for (const page of pages) {
      const plan = await planOf(page);
      expect(plan.map((n) => n['Node Type'])).not.toContain('Seq Scan');
    }
  });
});
