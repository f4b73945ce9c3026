import { PGlite } from '@electric-sql/pglite';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeWithPostgres, postgresUrl } from '../../../test/support/services.js';
import { FlowproofError } from '../../core/errors.js';
import type { SweptTableColumns, TableSweeper } from '../../retention/table-sweeper.js';
import { uniqueNamespace } from '../../testing/index.js';
import {
  createPostgresBackend,
  createPostgresTableSweeper,
  type PostgresBackend,
} from '../postgres/index.js';
import { createSqliteBackend, createSqliteTableSweeper } from '../sqlite/index.js';
import type { SqlBackend } from './sql-dialect.js';

const closers: (() => Promise<unknown>)[] = [];
afterAll(() => Promise.all(closers.map((close) => close())));

interface Engine {
  readonly backend: SqlBackend;
  readonly sweeper: TableSweeper;
  /** Where the test tables go (`schema.` on the PostgreSQL server). */
  readonly prefix: string;
  /** The column type of ISO times. */
  readonly timeType: string;
}

const engines: Record<string, () => Promise<Engine>> = {
  sqlite: async () => {
    const backend = createSqliteBackend({ database: new Database(':memory:') });
    return {
      backend,
      sweeper: createSqliteTableSweeper({ backend }),
      prefix: '',
      timeType: 'TEXT',
    };
  },
  pglite: async () => {
    const client = new PGlite();
    closers.push(() => client.close());
    const backend = createPostgresBackend({ client });
    return {
      backend,
      sweeper: createPostgresTableSweeper({ backend }),
      prefix: '',
      timeType: 'timestamptz',
    };
  },
};
const url = postgresUrl();
if (url) {
  engines.postgres = async () => {
    const pool = new pg.Pool({ connectionString: url, max: 4 });
    const schema = uniqueNamespace('sweep');
    await pool.query(`CREATE SCHEMA ${schema}`);
    closers.push(async () => {
      await pool.query(`DROP SCHEMA ${schema} CASCADE`);
      await pool.end();
    });
    const backend = createPostgresBackend({ client: pool });
    return {
      backend,
      sweeper: createPostgresTableSweeper({ backend }),
      prefix: `${schema}.`,
      timeType: 'timestamptz',
    };
  };
}

const DAY = 86_400_000;
const T0 = Date.UTC(2024, 0, 31);
const iso = (ms: number) => new Date(ms).toISOString();

for (const [name, make] of Object.entries(engines)) {
  describe(`SQL table sweeper on ${name}`, () => {
    let engine: Engine;
    let n = 0;
    beforeAll(async () => {
      engine = await make();
    });

    /** A fresh table of `rows` [id, day offset from T0, subject, email]. */
    async function table(
      rows: readonly (readonly [number, number, string | null, string | null])[],
      extra: Partial<SweptTableColumns> = {},
    ): Promise<SweptTableColumns> {
      const t = `${engine.prefix}swept_${++n}`;
      const epoch = extra.timeType === 'epoch-ms';
      await engine.backend.execute(
        `CREATE TABLE ${t} (id INTEGER PRIMARY KEY, at ${epoch ? 'BIGINT' : engine.timeType} NOT NULL, user_id TEXT, email TEXT, name TEXT)`,
      );
      for (const [id, day, subject, email] of rows) {
        await engine.backend.execute(
          `INSERT INTO ${t} (id, at, user_id, email, name) VALUES (${[1, 2, 3, 4, 5]
            .map((i) => (engine.backend.kind === 'postgres' ? `$${i}` : '?'))
            .join(', ')})`,
          [id, epoch ? T0 + day * DAY : iso(T0 + day * DAY), subject, email, 'n'],
        );
      }
      return {
        table: t,
        timestamp: 'at',
        subject: 'user_id',
        anonymize: { email: null, name: 'anon' },
        ...extra,
      };
    }
    const ids = async (t: SweptTableColumns) =>
      (await engine.backend.query<{ id: unknown }>(`SELECT id FROM ${t.table} ORDER BY id`)).map(
        (r) => Number(r.id),
      );

    it('deletes due rows in keyset batches, leaving held subjects and later rows', async () => {
      const rows = Array.from(
        { length: 25 },
        (_, i) => [i + 1, i % 5, i % 3 === 0 ? 'held' : i % 7 === 0 ? null : `u${i}`, 'e'] as const,
      );
      const t = await table(rows);
      const cutoff = new Date(T0 + 2 * DAY); // days 0, 1, 2 are due (<= cutoff)
      const due = rows.filter(([, day, s]) => day <= 2 && s !== 'held').map(([id]) => id);
      expect(await engine.sweeper.countDue({ table: t, cutoff, excludeSubjects: ['held'] })).toBe(
        due.length,
      );
      let afterKey: string | number | bigint | null = null;
      const counts: number[] = [];
      for (;;) {
        const r = await engine.sweeper.deleteBatch({
          table: t,
          cutoff,
          afterKey,
          limit: 4,
          excludeSubjects: ['held'],
        });
        counts.push(r.count);
        if (r.count < 4) break;
        expect(r.lastKey).not.toBeNull();
        afterKey = r.lastKey;
      }
      expect(counts.reduce((a, b) => a + b, 0)).toBe(due.length);
      expect(counts.slice(0, -1).every((c) => c === 4)).toBe(true);
      expect(await ids(t)).toEqual(rows.map(([id]) => id).filter((id) => !due.includes(id)));
    });

    it('returns the largest key of the batch and starts after afterKey', async () => {
      const t = await table([
        [3, 0, 'a', 'e'],
        [10, 0, 'a', 'e'],
        [7, 0, 'a', 'e'],
        [20, 9, 'a', 'e'],
      ]);
      const cutoff = new Date(T0);
      const first = await engine.sweeper.deleteBatch({
        table: t,
        cutoff,
        afterKey: null,
        limit: 2,
        excludeSubjects: [],
      });
      expect(first.count).toBe(2);
      expect(Number(first.lastKey)).toBe(7);
      const second = await engine.sweeper.deleteBatch({
        table: t,
        cutoff,
        afterKey: first.lastKey,
        limit: 2,
        excludeSubjects: [],
      });
      expect(second).toMatchObject({ count: 1 });
      expect(Number(second.lastKey)).toBe(10);
      const third = await engine.sweeper.deleteBatch({
        table: t,
        cutoff,
        afterKey: second.lastKey,
        limit: 2,
        excludeSubjects: [],
      });
      expect(third).toEqual({ count: 0, lastKey: null });
      expect(await ids(t)).toEqual([20]);
    });

    it('anonymizes only rows not yet anonymized (NULL-safe), and counts what is left', async () => {
      const t = await table([
        [1, 0, 'a', 'a@x'],
        [2, 0, 'b', null], // email already null, name still 'n': not anonymized yet
        [3, 0, 'held', 'h@x'],
        [4, 5, 'a', 'late@x'],
      ]);
      await engine.backend.execute(
        `UPDATE ${t.table} SET name = 'anon', email = NULL WHERE id = 1`,
      );
      const cutoff = new Date(T0 + DAY);
      expect(
        await engine.sweeper.countDue({
          table: t,
          cutoff,
          excludeSubjects: ['held'],
          anonymize: true,
        }),
      ).toBe(1);
      const r = await engine.sweeper.anonymizeBatch({
        table: t,
        cutoff,
        afterKey: null,
        limit: 10,
        excludeSubjects: ['held'],
      });
      expect(r.count).toBe(1);
      expect(Number(r.lastKey)).toBe(2);
      const again = await engine.sweeper.anonymizeBatch({
        table: t,
        cutoff,
        afterKey: null,
        limit: 10,
        excludeSubjects: ['held'],
      });
      expect(again.count).toBe(0);
      const rows = await engine.backend.query<{ id: unknown; email: unknown; name: unknown }>(
        `SELECT id, email, name FROM ${t.table} ORDER BY id`,
      );
      expect(rows.map((row) => [Number(row.id), row.email, row.name])).toEqual([
        [1, null, 'anon'],
        [2, null, 'anon'],
        [3, 'h@x', 'n'],
        [4, 'late@x', 'n'],
      ]);
    });

    it('erases by subject in batches and verifies', async () => {
      const t = await table(
        Array.from({ length: 12 }, (_, i) => [i + 1, i, i < 7 ? 'gone' : 'other', 'e'] as const),
      );
      expect(await engine.sweeper.countBySubject({ table: t, subjects: ['gone'] })).toBe(7);
      expect(
        await engine.sweeper.anonymizeBySubject({ table: t, subjects: ['gone'], limit: 5 }),
      ).toBe(5);
      expect(
        await engine.sweeper.countBySubject({
          table: t,
          subjects: ['gone'],
          unanonymizedOnly: true,
        }),
      ).toBe(2);
      expect(
        await engine.sweeper.anonymizeBySubject({ table: t, subjects: ['gone'], limit: 5 }),
      ).toBe(2);
      expect(
        await engine.sweeper.anonymizeBySubject({ table: t, subjects: ['gone'], limit: 5 }),
      ).toBe(0);
      expect(await engine.sweeper.deleteBySubject({ table: t, subjects: ['gone'], limit: 4 })).toBe(
        4,
      );
      expect(await engine.sweeper.deleteBySubject({ table: t, subjects: ['gone'], limit: 4 })).toBe(
        3,
      );
      expect(await engine.sweeper.countBySubject({ table: t, subjects: ['gone'] })).toBe(0);
      expect(await engine.sweeper.countBySubject({ table: t, subjects: ['other'] })).toBe(5);
      expect(await engine.sweeper.deleteBySubject({ table: t, subjects: [], limit: 4 })).toBe(0);
    });

    it('compares epoch-ms columns, cutoff inclusive to the millisecond', async () => {
      const t = await table(
        [
          [1, 0, 'a', 'e'],
          [2, 1, 'a', 'e'],
        ],
        { timeType: 'epoch-ms' },
      );
      const at = (ms: number) =>
        engine.sweeper.countDue({ table: t, cutoff: new Date(ms), excludeSubjects: [] });
      expect(await at(T0 - 1)).toBe(0);
      expect(await at(T0)).toBe(1);
      expect(await at(T0 + DAY - 1)).toBe(1);
      expect(await at(T0 + DAY)).toBe(2);
    });

    it('ignores subject exclusions on a table without a subject column', async () => {
      const t = await table([[1, 0, 'held', 'e']]);
      const { subject: _, anonymize: __, ...bare } = t;
      expect(
        await engine.sweeper.countDue({
          table: bare,
          cutoff: new Date(T0),
          excludeSubjects: ['held'],
        }),
      ).toBe(1);
      await expect(
        engine.sweeper.countBySubject({ table: bare, subjects: ['held'] }),
      ).rejects.toThrow(TypeError);
      await expect(
        engine.sweeper.anonymizeBatch({
          table: bare,
          cutoff: new Date(T0),
          afterKey: null,
          limit: 1,
          excludeSubjects: [],
        }),
      ).rejects.toThrow(/anonymize columns/);
    });

    it('refuses bad identifiers with a TypeError and maps a missing table to SCHEMA_OUTDATED', async () => {
      const request = {
        cutoff: new Date(T0),
        afterKey: null,
        limit: 10,
        excludeSubjects: [],
      };
      await expect(
        engine.sweeper.deleteBatch({
          ...request,
          table: { table: 'users; DROP TABLE x', timestamp: 'at' },
        }),
      ).rejects.toThrow(TypeError);
      await expect(
        engine.sweeper.deleteBatch({ ...request, table: { table: 'a.b.c', timestamp: 'at' } }),
      ).rejects.toThrow(TypeError);
      await expect(
        engine.sweeper.deleteBatch({ ...request, table: { table: 't', timestamp: 'at"x' } }),
      ).rejects.toThrow(TypeError);
      await expect(
        engine.sweeper.deleteBatch({
          ...request,
          limit: 0,
          table: { table: 't', timestamp: 'at' },
        }),
      ).rejects.toThrow(TypeError);
      const missing = await engine.sweeper
        .deleteBatch({ ...request, table: { table: 'no_such_table', timestamp: 'at' } })
        .catch((error: unknown) => error);
      expect(missing).toBeInstanceOf(FlowproofError);
      expect((missing as FlowproofError).code).toBe('SCHEMA_OUTDATED');
    });

    it('reads the database clock', async () => {
      const now = await engine.sweeper.now();
      expect(Math.abs(now.getTime() - Date.now())).toBeLessThan(60_000);
    });
  });
}

it('the factories refuse another engine’s backend', () => {
  const backend = createSqliteBackend({ database: new Database(':memory:') });
  expect(() =>
    createPostgresTableSweeper({ backend: backend as unknown as PostgresBackend }),
  ).toThrow(/options.backend must be a PostgreSQL backend/);
  expect(() => createSqliteTableSweeper({ backend: {} as never })).toThrow(TypeError);
  expect(() => createSqliteTableSweeper({ backend, extra: 1 } as never)).toThrow(/extra/);
});

/** A node of `EXPLAIN (FORMAT JSON)`. */
interface PlanNode {
  readonly 'Node Type': string;
  readonly 'Relation Name'?: string;
  readonly 'Index Name'?: string;
  readonly Plans?: readonly PlanNode[];
}
const nodes = (plan: PlanNode): PlanNode[] => [plan, ...(plan.Plans ?? []).flatMap(nodes)];

describeWithPostgres('PostgreSQL table sweeper plans (200,000 rows)', (pgUrl) => {
  let pool: pg.Pool;
  let backend: PostgresBackend;
  const schema = uniqueNamespace('sweepplan');
  const sent: { sql: string; params: readonly unknown[] }[] = [];
  const table: SweptTableColumns = {
    table: `${schema}.events`,
    timestamp: 'at',
    subject: 'user_id',
    anonymize: { email: null },
  };
  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: pgUrl, max: 2 });
    await pool.query(`CREATE SCHEMA ${schema}`);
    await pool.query(
      `CREATE TABLE ${schema}.events (id bigint PRIMARY KEY, at timestamptz NOT NULL, user_id text, email text)`,
    );
    await pool.query(`CREATE INDEX ON ${schema}.events (user_id)`);
    // An index on the time column tempts the planner to sort every due row per batch.
    await pool.query(`CREATE INDEX ON ${schema}.events (at)`);
    // Half the rows due; due and later rows interleaved across the key range.
    await pool.query(`INSERT INTO ${schema}.events
      SELECT g, timestamptz '2020-01-01' + (g % 2) * interval '10 years', 'u' || (g % 5000), 'e'
        FROM generate_series(1, 200000) g`);
    await pool.query(`ANALYZE ${schema}.events`);
    backend = createPostgresBackend({ client: pool });
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
    await pool.end();
  });

  async function planOf(call: () => Promise<unknown>): Promise<PlanNode[]> {
    sent.length = 0;
    const client = await pool.connect();
    try {
      await call();
      const [statement] = sent;
      if (statement === undefined) throw new Error('no statement sent');
      await client.query('BEGIN');
      const { rows } = await client.query(`EXPLAIN (FORMAT JSON) ${statement.sql}`, [
        ...statement.params,
      ]);
      return nodes(rows[0]['QUERY PLAN'][0].Plan);
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
  }

  it('picks each batch through the key index, never a sequential scan', async () => {
    const sweeper = createPostgresTableSweeper({ backend });
    const cutoff = new Date('2021-01-01T00:00:00Z');
    const deleteBySubject = () => sweeper.deleteBySubject({ table, subjects: ['u7'], limit: 1000 });
    for (const call of [
      () =>
        sweeper.deleteBatch({
          table,
          cutoff,
          afterKey: null,
          limit: 1000,
          excludeSubjects: ['u1'],
        }),
      () =>
        sweeper.deleteBatch({
          table,
          cutoff,
          afterKey: '100001',
          limit: 1000,
          excludeSubjects: [],
        }),
      () =>
        sweeper.anonymizeBatch({
          table,
          cutoff,
          afterKey: '5',
          limit: 1000,
          excludeSubjects: ['u2'],
        }),
      deleteBySubject,
    ]) {
      const plan = await planOf(call);
      const types = plan.map((node) => node['Node Type']);
      expect(types).not.toContain('Seq Scan');
      expect(types.some((type) => /Index/.test(type))).toBe(true);
      if (call !== deleteBySubject) {
        // Walks the key index from the last key: no sort of every due row per batch (the one
        // sort allowed is of the batch itself, for its last key).
        const sortsTable = plan.some(
          (node) =>
            node['Node Type'] === 'Sort' &&
            nodes(node).some((below) => below['Relation Name'] === 'events'),
        );
        expect(sortsTable).toBe(false);
        expect(plan.some((node) => node['Index Name'] === 'events_pkey')).toBe(true);
      }
    }
  });
});
