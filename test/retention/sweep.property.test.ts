/**
 * The sweep, proved on real SQL: random policies (delete after, anonymize after, keep, cannot
 * delete, indefinite), rows timed around their cutoffs (exact boundaries ± 1 ms, month ends),
 * random legal holds (subject, data type, subject + data type) and a random `now`. After ONE
 * sweep: no held row was touched, no row was deleted or anonymized before its due time, and every
 * due row that no hold covers is gone (or anonymized). The oracle is the policies' own
 * `deleteDueAt` / `anonymizeDueAt`, evaluated per row in JavaScript; the sweep only ever sees the
 * cutoffs, turned into SQL.
 *
 * Runs: 10,000 on SQLite (scaled by RETENTION_PROOF_SCALE), 200 on PostgreSQL when
 * FLOWPROOF_TEST_POSTGRES_URL is set.
 */
import Database from 'better-sqlite3';
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createPostgresBackend,
  createPostgresTableSweeper,
} from '../../src/adapters/postgres/index.js';
import { createSqliteBackend, createSqliteTableSweeper } from '../../src/adapters/sqlite/index.js';
import { createManualClock, type ManualClock } from '../../src/core/clock.js';
import { definePolicies, type RetentionPolicies } from '../../src/retention/retention-policies.js';
import type { LegalHoldRow } from '../../src/retention/retention-store.js';
import { type SweptTable, sweepTables } from '../../src/retention/sweeper.js';
import type { TableSweeper } from '../../src/retention/table-sweeper.js';
import { uniqueNamespace } from '../../src/testing/index.js';
import { describeWithPostgres } from '../support/services.js';

const SCALE = Number(process.env.RETENTION_PROOF_SCALE ?? '1');
const DAY = 86_400_000;
const TYPES = ['t0', 't1', 't2', 't3'] as const;
const SUBJECTS = ['a', 'b', 'c'] as const;

/** Durations compared unambiguously: every short one is shorter than every long one. */
const SHORT = ['12 hours', '1 day', 'P7D', '10 days', '1 month', 'P1M', '2 months'];
const LONG = ['1 year', 'P1Y', '2 years', '1 year 6 months', 'P3Y'];

type Kind = 'delete' | 'delete-keep' | 'anonymize' | 'keep' | 'cannot-delete' | 'indefinite';
const policyOf = (kind: Kind, short: string, long: string): Record<string, unknown> => {
  switch (kind) {
    case 'delete':
      return { deleteAfter: short };
    case 'delete-keep':
      return { keep: long, deleteAfter: long };
    case 'anonymize':
      return { keep: long, anonymizeAfter: short, anonymizePii: true };
    case 'keep':
      return { keep: long };
    case 'cannot-delete':
      return { keep: long, cannotDelete: true };
    case 'indefinite':
      return { keep: 'indefinite' };
  }
};

/** Where a row's time is put: at a cutoff ± offset, at a month end near it, or anywhere. */
const rowSpec = fc.record({
  anchor: fc.constantFrom('delete', 'anonymize', 'month-end', 'random'),
  offset: fc.oneof(
    fc.constantFrom(-1, 0, 1),
    fc.integer({ min: -3 * DAY, max: 3 * DAY }),
    fc.integer({ min: -400 * DAY, max: 400 * DAY }),
  ),
  endOfDay: fc.boolean(),
  random: fc.integer({ min: Date.UTC(2010, 0, 1), max: Date.UTC(2035, 0, 1) }),
  subject: fc.constantFrom<string | null>(...SUBJECTS, null),
});

const caseArb = fc.record({
  now: fc.oneof(
    fc.integer({ min: Date.UTC(2016, 0, 1), max: Date.UTC(2034, 0, 1) }),
    // Month ends and month starts, where calendar arithmetic clamps.
    fc
      .record({
        y: fc.integer({ min: 2016, max: 2033 }),
        m: fc.integer({ min: 0, max: 11 }),
        end: fc.boolean(),
      })
      .map(({ y, m, end }) =>
        end ? Date.UTC(y, m + 1, 0, 23, 59, 59, 999) : Date.UTC(y, m + 1, 0),
      ),
  ),
  tables: fc.array(
    fc.record({
      kind: fc.constantFrom<Kind>(
        'delete',
        'delete-keep',
        'anonymize',
        'keep',
        'cannot-delete',
        'indefinite',
      ),
      short: fc.constantFrom(...SHORT),
      long: fc.constantFrom(...LONG),
      epoch: fc.boolean(),
      withSubject: fc.boolean(),
      withAnonymize: fc.boolean(),
      rows: fc.array(rowSpec, { maxLength: 10 }),
    }),
    { minLength: 1, maxLength: TYPES.length },
  ),
  holds: fc.array(
    fc.oneof(
      fc.record({
        subject: fc.constantFrom<string | null>(...SUBJECTS),
        dataType: fc.constant(null),
      }),
      fc.record({ subject: fc.constant(null), dataType: fc.constantFrom<string | null>(...TYPES) }),
      fc.record({
        subject: fc.constantFrom<string | null>(...SUBJECTS),
        dataType: fc.constantFrom<string | null>(...TYPES),
      }),
    ),
    { maxLength: 3 },
  ),
  batchSize: fc.constantFrom(1, 2, 3, 1000),
});
type Case = typeof caseArb extends fc.Arbitrary<infer C> ? C : never;

/** One engine's tables t0..t3: (id, at_iso, at_ms, user_id, email, name). */
interface Engine {
  readonly sweeper: TableSweeper;
  readonly clock: ManualClock;
  /** Empties the tables and writes `rows` into `table`. */
  load(rows: Readonly<Record<string, readonly Row[]>>): Promise<void>;
  read(table: string): Promise<readonly { id: number; email: string | null; name: string }[]>;
}
interface Row {
  readonly id: number;
  readonly at: number;
  readonly subject: string | null;
}

function monthEnd(at: number, endOfDay: boolean): number {
  const d = new Date(at);
  return endOfDay
    ? Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0, 23, 59, 59, 999)
    : Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0);
}

async function sweepCase(engine: Engine, c: Case): Promise<void> {
  const types = c.tables.map((_, i) => TYPES[i] as string);
  const policies: RetentionPolicies = definePolicies(
    Object.fromEntries(c.tables.map((t, i) => [types[i], policyOf(t.kind, t.short, t.long)])),
  );
  const now = new Date(c.now);
  const rows: Record<string, Row[]> = {};
  let id = 0;
  const tables: SweptTable[] = c.tables.map((t, i) => {
    const type = types[i] as string;
    const del = policies.deleteCutoff(type, now)?.getTime();
    const anon = policies.anonymizeCutoff(type, now)?.getTime();
    rows[type] = t.rows.map((r) => {
      const base =
        r.anchor === 'delete' && del !== undefined
          ? del
          : r.anchor === 'anonymize' && anon !== undefined
            ? anon
            : r.anchor === 'month-end'
              ? monthEnd(del ?? anon ?? c.now, r.endOfDay)
              : r.random;
      return {
        id: ++id,
        at: r.anchor === 'random' ? r.random : base + r.offset,
        subject: r.subject,
      };
    });
    const anonymizes = t.kind === 'anonymize' || t.withAnonymize;
    return {
      table: type,
      dataType: type,
      timestamp: t.epoch ? 'at_ms' : 'at_iso',
      ...(t.epoch ? { timeType: 'epoch-ms' as const } : {}),
      ...(t.withSubject ? { subject: 'user_id' } : {}),
      ...(anonymizes ? { anonymize: { email: null, name: 'anon' } } : {}),
      sweeper: engine.sweeper,
    };
  });
  await engine.load(rows);
  engine.clock.set(now);
  const holds: LegalHoldRow[] = c.holds.map((h, i) => ({
    id: `h${i}`,
    ...h,
    reason: 'r',
    owner: 'o',
    placedAt: 0,
    releasedAt: null,
    releaseReason: null,
  }));
  const report = await sweepTables(
    { policies, holds: async () => holds, tables, own: [] },
    { batchSize: c.batchSize },
  );
  expect(report.aborted).toBe(false);

  for (const [i, table] of tables.entries()) {
    const type = table.dataType;
    const after = new Map((await engine.read(type)).map((r) => [r.id, r]));
    const typeHeld = holds.some((h) => h.subject === null && h.dataType === type);
    for (const row of rows[type] ?? []) {
      const subjectHeld =
        table.subject !== undefined &&
        row.subject !== null &&
        holds.some(
          (h) => h.subject === row.subject && (h.dataType === null || h.dataType === type),
        );
      const deleteAt = policies.deleteDueAt(type, row.at);
      const anonymizeAt = policies.anonymizeDueAt(type, row.at);
      const dueDelete = deleteAt !== undefined && deleteAt.getTime() <= c.now;
      const dueAnonymize =
        table.anonymize !== undefined &&
        anonymizeAt !== undefined &&
        anonymizeAt.getTime() <= c.now;
      const found = after.get(row.id);
      const where = `${type} row ${row.id} at ${new Date(row.at).toISOString()} (${c.tables[i]?.kind}), now ${now.toISOString()}`;
      if (typeHeld || subjectHeld || (!dueDelete && !dueAnonymize)) {
        expect(found, `untouched: ${where}`).toEqual({
          id: row.id,
          email: `e${row.id}`,
          name: 'n',
        });
      } else if (dueDelete) {
        expect(found, `deleted: ${where}`).toBeUndefined();
      } else {
        expect(found, `anonymized: ${where}`).toEqual({ id: row.id, email: null, name: 'anon' });
      }
    }
    expect(after.size).toBeLessThanOrEqual(rows[type]?.length ?? 0);
  }
}

describe('one sweep over random policies, rows and holds (SQLite)', () => {
  const db = new Database(':memory:');
  const clock = createManualClock('2026-01-01T00:00:00Z');
  const backend = createSqliteBackend({ database: db, clock });
  for (const t of TYPES) {
    db.exec(
      `CREATE TABLE ${t} (id INTEGER PRIMARY KEY, at_iso TEXT NOT NULL, at_ms INTEGER NOT NULL, user_id TEXT, email TEXT, name TEXT)`,
    );
  }
  const inserts = TYPES.map((t) => db.prepare(`INSERT INTO ${t} VALUES (?, ?, ?, ?, ?, 'n')`));
  const load = db.transaction((rows: Readonly<Record<string, readonly Row[]>>) => {
    for (const [i, t] of TYPES.entries()) {
      db.exec(`DELETE FROM ${t}`);
      for (const r of rows[t] ?? []) {
        inserts[i]?.run(r.id, new Date(r.at).toISOString(), r.at, r.subject, `e${r.id}`);
      }
    }
  });
  const engine: Engine = {
    sweeper: createSqliteTableSweeper({ backend }),
    clock,
    load: async (rows) => load(rows),
    read: async (t) =>
      db.prepare(`SELECT id, email, name FROM ${t}`).all() as {
        id: number;
        email: string | null;
        name: string;
      }[],
  };
  afterAll(() => db.close());

  it(`holds for ${Math.round(10_000 * SCALE)} cases`, async () => {
    await fc.assert(
      fc.asyncProperty(caseArb, (c) => sweepCase(engine, c)),
      { numRuns: Math.max(1, Math.round(10_000 * SCALE)) },
    );
  }, 120_000);
});

describeWithPostgres('one sweep over random policies, rows and holds (PostgreSQL)', (url) => {
  let pool: pg.Pool;
  const schema = uniqueNamespace('sweepproof');
  const clock = createManualClock('2026-01-01T00:00:00Z');
  let engine: Engine;
  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: url, max: 2, options: `-c search_path=${schema}` });
    await pool.query(`CREATE SCHEMA ${schema}`);
    for (const t of TYPES) {
      await pool.query(
        `CREATE TABLE ${schema}.${t} (id integer PRIMARY KEY, at_iso timestamptz NOT NULL, at_ms bigint NOT NULL, user_id text, email text, name text)`,
      );
    }
    const backend = createPostgresBackend({ client: pool });
    // The server's clock cannot be set: the case's `now` is the sweeper's.
    const sweeper = createPostgresTableSweeper({ backend });
    engine = {
      sweeper: { ...sweeper, now: async () => clock.now() },
      clock,
      async load(rows) {
        await pool.query(`TRUNCATE ${TYPES.map((t) => `${schema}.${t}`).join(', ')}`);
        for (const t of TYPES) {
          const list = rows[t] ?? [];
          if (list.length === 0) continue;
          await pool.query(
            `INSERT INTO ${schema}.${t} SELECT id, at_iso, at_ms, user_id, 'e' || id, 'n'
               FROM unnest($1::int[], $2::timestamptz[], $3::bigint[], $4::text[]) AS r(id, at_iso, at_ms, user_id)`,
            [
              list.map((r) => r.id),
              list.map((r) => new Date(r.at).toISOString()),
              list.map((r) => r.at),
              list.map((r) => r.subject),
            ],
          );
        }
      },
      async read(t) {
        const { rows } = await pool.query(`SELECT id, email, name FROM ${schema}.${t}`);
        return rows;
      },
    };
  });
  afterAll(async () => {
    await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await pool.end();
  });

  it('holds for 200 cases', async () => {
    await fc.assert(
      fc.asyncProperty(caseArb, (c) => sweepCase(engine, c)),
      { numRuns: Math.max(1, Math.round(200 * SCALE)) },
    );
  }, 120_000);
});
