/**
 * Retention: sweeping 1,000,000 expired rows from a PostgreSQL table.
 *
 * The flowproof sweep (`sweepTables` over `createPostgresTableSweeper`, a hold-free policy that
 * deletes after one day, subject exclusion with an empty hold list) against the raw primitive: a
 * batched keyset `DELETE` loop with the same batch size, written by hand (`DELETE … WHERE id IN
 * (SELECT id … WHERE at <= $1 AND id > $2 ORDER BY id LIMIT $3) RETURNING id`, count and last key
 * in a CTE), in three spellings: `IN (subquery)` as one usually writes it, `= ANY(ARRAY(subquery))`
 * (the key array probing the primary key), and the same with `FOR UPDATE SKIP LOCKED` (what the
 * sweep runs: concurrent sweepers and application transactions take or skip rows rather than
 * wait; locking costs a second write of each row's header). Batch sizes 1000 and 5000. Each run starts from a freshly loaded, analysed table
 * (`INSERT … SELECT generate_series`, 1M rows all expired, interleaved subjects), so this is a
 * standalone section rather than a harness suite: one run deletes the whole table.
 *
 * Reported per batch size: rows/s of each, the ratio flowproof / raw, and the longest single
 * batch (one statement, one transaction: the longest any row lock was held). Goals: ≥ 0.8× raw,
 * ≥ 50k rows/s, every batch ≤ 200 ms. `RETENTION_BENCH_ROWS` and `RETENTION_BENCH_ROUNDS`
 * override the row count (default 1,000,000) and the rounds per batch size (default 1; contenders
 * alternate within a round).
 *
 * Servers: FLOWPROOF_BENCH_POSTGRES_URL when set, otherwise a throwaway server started with the
 * test suite's global setup (skipped without one).
 */
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import {
  createPostgresBackend,
  createPostgresTableSweeper,
} from '../src/adapters/postgres/index.js';
import { definePolicies } from '../src/retention/retention-policies.js';
import { sweepTables } from '../src/retention/sweeper.js';
import { benchServices, closeAll } from './bench-services.js';
import type { BenchSuite } from './harness.js';

const ROWS = Number(process.env.RETENTION_BENCH_ROWS ?? 1_000_000);
const ROUNDS = Number(process.env.RETENTION_BENCH_ROUNDS ?? 1);
const BATCHES = [1000, 5000] as const;

interface Run {
  readonly seconds: number;
  readonly deleted: number;
  readonly maxBatchMs: number;
  /** Every batch's time, ms. */
  readonly batchMs: readonly number[];
}
type Who = 'raw IN' | 'raw ANY' | 'raw ANY SKIP LOCKED' | 'flowproof';

async function sweepBenchmark(url: string, closers: (() => Promise<unknown>)[]): Promise<void> {
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  pool.on('error', () => {});
  closers.push(() => pool.end());
  const schema = `bench_sweep_${process.pid}`;
  const table = `${schema}.session_logs`;
  await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await pool.query(`CREATE SCHEMA ${schema}`);
  closers.push(() => pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`));
  await pool.query(
    `CREATE TABLE ${table} (id bigint PRIMARY KEY, created_at timestamptz NOT NULL, user_id text, ip text)`,
  );
  await pool.query(`CREATE INDEX ON ${table} (created_at)`);
  await pool.query(`CREATE INDEX ON ${table} (user_id)`);
  const load = async () => {
    await pool.query(`TRUNCATE ${table}`);
    await pool.query(
      `INSERT INTO ${table}
       SELECT g, now() - interval '100 days' - (g % 1000) * interval '1 minute',
              'user-' || (g % 50000), '10.0.' || (g % 250) || '.' || (g % 200)
         FROM generate_series(1, $1::int) g`,
      [ROWS],
    );
    await pool.query(`VACUUM ANALYZE ${table}`);
  };

  const backend = createPostgresBackend({ client: pool });
  const sweeper = createPostgresTableSweeper({ backend });
  const policies = definePolicies({ session_logs: { keep: '90 days', deleteAfter: '90 days' } });
  const flowproof = async (batchSize: number): Promise<Run> => {
    const started = performance.now();
    const batchMs: number[] = [];
    let last = started;
    const report = await sweepTables(
      {
        policies,
        holds: async () => [],
        tables: [
          {
            table,
            dataType: 'session_logs',
            timestamp: 'created_at',
            subject: 'user_id',
            sweeper,
          },
        ],
        own: [],
      },
      {
        batchSize,
        // Time between progress calls: one batch and the loop around it.
        onProgress: () => {
          const now = performance.now();
          batchMs.push(now - last);
          last = now;
        },
      },
    );
    const t = report.tables[0];
    return {
      seconds: (performance.now() - started) / 1000,
      deleted: t?.deleted ?? 0,
      maxBatchMs: t?.maxBatchMs ?? Number.NaN,
      batchMs,
    };
  };
  /**
   * The hand-written loop. `in`: `id IN (subquery)`, as one usually writes it; `any`: the key
   * array probed by `id = ANY(ARRAY(subquery))` (PostgreSQL may hash-join `IN` against the whole
   * table instead of probing the primary key).
   */
  const raw = async (batchSize: number, form: 'in' | 'any' | 'locked'): Promise<Run> => {
    const started = performance.now();
    const cutoff = new Date(Date.now() - 90 * 86_400_000).toISOString();
    const pick = `SELECT id FROM ${table} WHERE created_at <= $1 AND id > $2 ORDER BY id LIMIT $3${form === 'locked' ? ' FOR UPDATE SKIP LOCKED' : ''}`;
    const sql = `WITH d AS (DELETE FROM ${table} WHERE ${form === 'in' ? `id IN (${pick})` : `id = ANY(ARRAY(${pick}))`}
          RETURNING id)
         SELECT count(*)::int AS n, max(id)::text AS last FROM d`;
    let after = '0';
    let deleted = 0;
    const batchMs: number[] = [];
    for (;;) {
      const batchStarted = performance.now();
      const { rows } = await pool.query(sql, [cutoff, after, batchSize]);
      batchMs.push(performance.now() - batchStarted);
      const n = rows[0].n as number;
      deleted += n;
      if (n < batchSize) break;
      after = rows[0].last as string;
    }
    return {
      seconds: (performance.now() - started) / 1000,
      deleted,
      maxBatchMs: Math.max(...batchMs),
      batchMs,
    };
  };
  const run = (who: Who, batchSize: number): Promise<Run> =>
    who === 'flowproof'
      ? flowproof(batchSize)
      : raw(batchSize, who === 'raw IN' ? 'in' : who === 'raw ANY' ? 'any' : 'locked');

  console.log(
    `\n### retention: sweeping ${ROWS.toLocaleString('en')} expired rows from PostgreSQL (one table, ${ROUNDS} round(s) per batch size, contenders alternating)\n`,
  );
  console.log(
    '| batch | contender | rows/s | × raw IN | × raw ANY | p99 batch ms | max batch ms | goals vs raw ANY (≥ 0.8×, ≥ 50k/s, max ≤ 200 ms) |',
  );
  console.log('| ---: | :--- | ---: | ---: | ---: | ---: | ---: | :--- |');
  const contenders: readonly Who[] = ['raw IN', 'raw ANY', 'raw ANY SKIP LOCKED', 'flowproof'];
  for (const batchSize of BATCHES) {
    const runs = new Map<Who, Run[]>(contenders.map((who) => [who, []]));
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? contenders : [...contenders].reverse();
      for (const who of order) {
        await load();
        const result = await run(who, batchSize);
        if (result.deleted !== ROWS) {
          throw new Error(`${who} deleted ${result.deleted} of ${ROWS} rows`);
        }
        runs.get(who)?.push(result);
      }
    }
    const rate = (who: Who) => {
      const list = runs.get(who) ?? [];
      return list.reduce((s, r) => s + r.deleted, 0) / list.reduce((s, r) => s + r.seconds, 0);
    };
    const batches = (who: Who) =>
      (runs.get(who) ?? []).flatMap((r) => r.batchMs).sort((a, b) => a - b);
    const p99 = (who: Who) => {
      const list = batches(who);
      return list[Math.min(list.length - 1, Math.floor(0.99 * list.length))] ?? Number.NaN;
    };
    const max = (who: Who) => Math.max(...(runs.get(who) ?? []).map((r) => r.maxBatchMs));
    for (const who of contenders) {
      const vsAny = rate(who) / rate('raw ANY');
      const goals =
        who !== 'flowproof'
          ? ''
          : vsAny >= 0.8 && rate(who) >= 50_000 && max(who) <= 200
            ? 'met'
            : `missed (${[vsAny < 0.8 ? 'ratio' : '', rate(who) < 50_000 ? 'rate' : '', max(who) > 200 ? 'max batch' : ''].filter(Boolean).join(', ')})`;
      console.log(
        `| ${batchSize} | ${who} | ${Math.round(rate(who)).toLocaleString('en')} | ${(rate(who) / rate('raw IN')).toFixed(2)}× | ${vsAny.toFixed(2)}× | ${p99(who).toFixed(1)} | ${max(who).toFixed(1)} | ${goals} |`,
      );
    }
  }
}

export default async function suites(): Promise<BenchSuite[]> {
  const closers: (() => Promise<unknown>)[] = [];
  try {
    const services = await benchServices();
    closers.push(services.stop);
    if (services.postgresUrl) await sweepBenchmark(services.postgresUrl, closers);
    else console.log('\n(skipped the retention sweep benchmark: no PostgreSQL binaries)');
  } finally {
    await closeAll(closers);
  }
  return [];
}
