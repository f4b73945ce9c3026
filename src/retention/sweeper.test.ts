import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  createMemoryBackend,
  createMemoryIdempotencyStore,
  createMemoryLineageStore,
  createMemoryOutboxStore,
  createMemorySagaStore,
} from '../adapters/memory/index.js';
import { createSqliteBackend, createSqliteTableSweeper } from '../adapters/sqlite/index.js';
import { createManualClock } from '../core/clock.js';
import { createIdempotency } from '../idempotency/index.js';
import { createLineage, sourced } from '../lineage/index.js';
import { createOutbox } from '../outbox/index.js';
import { createSagas, defineSaga } from '../saga/index.js';
import { definePolicies, type RetentionPolicies } from './retention-policies.js';
import type { LegalHoldRow } from './retention-store.js';
import { checkSweptTable, ownData, type SweptTable, sweepTables } from './sweeper.js';

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 0, 1);

/** Policies that delete / anonymize a whole number of days after the row's time. */
function policies(
  rules: Record<string, { deleteDays?: number; anonymizeDays?: number }>,
): RetentionPolicies {
  return definePolicies(
    Object.fromEntries(
      Object.entries(rules).map(([type, r]) => [
        type,
        {
          ...(r.deleteDays === undefined
            ? { keep: 'indefinite' }
            : { deleteAfter: `${r.deleteDays} days` }),
          ...(r.anonymizeDays === undefined ? {} : { anonymizeAfter: `${r.anonymizeDays} days` }),
        },
      ]),
    ),
  );
}

function hold(subject: string | null, dataType: string | null): LegalHoldRow {
  return {
    id: `h-${subject}-${dataType}`,
    subject,
    dataType,
    reason: 'case',
    owner: 'legal',
    placedAt: 0,
    releasedAt: null,
    releaseReason: null,
  };
}

const open: { close(): unknown }[] = [];
afterEach(async () => {
  for (const x of open.splice(0)) await x.close();
});

/** A SQLite database with `events` rows [id, days before NOW, subject]; its clock is NOW. */
function database(rows: readonly (readonly [number, number, string | null])[]) {
  const db = new Database(':memory:');
  open.push(db);
  db.exec(
    'CREATE TABLE events (id INTEGER PRIMARY KEY, at TEXT NOT NULL, user_id TEXT, email TEXT)',
  );
  const insert = db.prepare('INSERT INTO events VALUES (?, ?, ?, ?)');
  for (const [id, daysAgo, subject] of rows) {
    insert.run(id, new Date(NOW - daysAgo * DAY).toISOString(), subject, `${id}@x`);
  }
  const backend = createSqliteBackend({
    database: db,
    clock: createManualClock(new Date(NOW).toISOString()),
  });
  const table: SweptTable = {
    table: 'events',
    dataType: 'events',
    timestamp: 'at',
    subject: 'user_id',
    anonymize: { email: null },
    sweeper: createSqliteTableSweeper({ backend }),
  };
  const remaining = () =>
    db.prepare('SELECT id, email FROM events ORDER BY id').all() as {
      id: number;
      email: string | null;
    }[];
  return { db, table, remaining };
}

const noHolds = async () => [];

describe('sweepTables', () => {
  it('anonymizes then deletes what is due, in batches, reporting progress', async () => {
    const rows = Array.from({ length: 30 }, (_, i) => [i + 1, i, `u${i % 4}`] as const);
    const { table, remaining } = database(rows);
    const progress: unknown[] = [];
    const report = await sweepTables(
      {
        policies: policies({ events: { anonymizeDays: 10, deleteDays: 20 } }),
        holds: noHolds,
        tables: [table],
        own: [],
      },
      { batchSize: 4, onProgress: (p) => progress.push(p) },
    );
    // Days ago >= 20 deleted (ids 21..30); 10..19 anonymized (ids 11..20), ids 21..30 were
    // anonymized first too.
    const [t] = report.tables;
    expect(t).toMatchObject({
      table: 'events',
      dataType: 'events',
      deleted: 10,
      anonymized: 20,
      held: 0,
      deleteCutoff: new Date(NOW - 20 * DAY).toISOString(),
      anonymizeCutoff: new Date(NOW - 10 * DAY).toISOString(),
    });
    // 20 anonymized in batches of 4: 5 full + 1 empty; 10 deleted: 2 full + 1 short.
    expect(t?.batches).toBe(9);
    expect(progress).toHaveLength(9);
    expect(progress.at(-1)).toEqual({ table: 'events', deleted: 10, anonymized: 20, batches: 9 });
    expect(t?.maxBatchMs).toBeGreaterThan(0);
    expect(report).toMatchObject({ dryRun: false, aborted: false, own: [] });
    expect(remaining()).toEqual(
      rows
        .filter(([, ago]) => ago < 20)
        .map(([id, ago]) => ({ id, email: ago >= 10 ? null : `${id}@x` })),
    );
  });

  it('skips a table whose data type is held, and excludes held subjects', async () => {
    const rows = Array.from({ length: 12 }, (_, i) => [i + 1, 30, `u${i % 3}`] as const);
    const a = database(rows);
    const b = database(rows);
    const report = await sweepTables(
      {
        policies: policies({ events: { deleteDays: 1 }, other: { deleteDays: 1 } }),
        holds: async () => {
          return [hold('u0', null), hold('u1', 'events'), hold('u2', 'other'), hold(null, 'other')];
        },
        tables: [a.table, { ...b.table, dataType: 'other' }],
        own: [],
      },
      { batchSize: 5 },
    );
    expect(report.tables.map((t) => [t.deleted, t.held])).toEqual([
      [4, 2],
      [0, 'type'],
    ]);
    expect(a.remaining().every(({ id }) => (id - 1) % 3 !== 2)).toBe(true);
    expect(b.remaining()).toHaveLength(12);
  });

  it('does not apply subject holds to a table without a subject column', async () => {
    const { table, remaining } = database([[1, 30, 'u0']]);
    const { subject: _, ...bare } = table;
    const report = await sweepTables(
      {
        policies: policies({ events: { deleteDays: 1 } }),
        holds: async () => [hold('u0', null)],
        tables: [bare],
        own: [],
      },
      {},
    );
    expect(report.tables[0]).toMatchObject({ deleted: 1, held: 0 });
    expect(remaining()).toEqual([]);
  });

  it('excludes every held subject, however many holds there are', async () => {
    const { table, remaining } = database([
      [1, 30, 'u0'],
      [2, 30, 's1500'],
    ]);
    const many = Array.from({ length: 3000 }, (_, i) => hold(`s${i}`, null));
    const report = await sweepTables(
      {
        policies: policies({ events: { deleteDays: 1 } }),
        holds: async () => many,
        tables: [table],
        own: [],
      },
      {},
    );
    expect(report.tables[0]).toMatchObject({ deleted: 1, held: 3000 });
    expect(remaining()).toHaveLength(1);
  });

  it('a dry run counts and writes nothing', async () => {
    const { table, remaining } = database([
      [1, 30, 'u0'],
      [2, 15, 'u1'],
      [3, 1, 'u2'],
      [4, 30, 'held'],
    ]);
    const purged: string[] = [];
    const report = await sweepTables(
      {
        policies: policies({ events: { anonymizeDays: 10, deleteDays: 20 } }),
        holds: async () => [hold('held', null)],
        tables: [table],
        own: [
          {
            name: 'x',
            purge: async () => {
              purged.push('x');
              return 1;
            },
          },
        ],
      },
      { dryRun: true },
    );
    expect(report.dryRun).toBe(true);
    expect(report.tables[0]).toMatchObject({
      due: { delete: 1, anonymize: 2 },
      deleted: 0,
      anonymized: 0,
      held: 1,
      batches: 0,
    });
    expect(report.own).toEqual([{ name: 'x', purged: null }]);
    expect(purged).toEqual([]);
    expect(remaining()).toHaveLength(4);
  });

  it('stops between batches when the signal aborts, and skips what follows', async () => {
    const rows = Array.from({ length: 20 }, (_, i) => [i + 1, 30, 'u'] as const);
    const first = database(rows);
    const second = database(rows);
    const controller = new AbortController();
    const report = await sweepTables(
      {
        policies: policies({ events: { deleteDays: 1 } }),
        holds: noHolds,
        tables: [first.table, second.table],
        own: [{ name: 'x', purge: async () => 1 }],
      },
      { batchSize: 3, signal: controller.signal, onProgress: () => controller.abort() },
    );
    expect(report.aborted).toBe(true);
    expect(report.tables).toHaveLength(1);
    expect(report.tables[0]).toMatchObject({ deleted: 3, batches: 1 });
    expect(first.remaining()).toHaveLength(17);
    expect(second.remaining()).toHaveLength(20);
    expect(report.own).toEqual([{ name: 'x', purged: null }]);
  });

  it('refuses a data type without a policy, and an anonymizing policy without columns, before any write', async () => {
    const { table, remaining } = database([[1, 30, 'u']]);
    const config = {
      policies: policies({ events: { deleteDays: 1 } }),
      holds: noHolds,
      own: [],
    };
    await expect(
      sweepTables({ ...config, tables: [table, { ...table, dataType: 'nope' }] }, {}),
    ).rejects.toThrow(/tables\[1\]\.dataType "nope" has no retention policy/);
    const { anonymize: _, ...plain } = table;
    await expect(
      sweepTables(
        { ...config, policies: policies({ events: { anonymizeDays: 1 } }), tables: [plain] },
        {},
      ),
    ).rejects.toThrow(/tables\[0\]\.anonymize must name the columns/);
    expect(remaining()).toHaveLength(1);
    for (const bad of [
      { batchSize: 0 },
      { batchSize: 1.5 },
      { dryRun: 'yes' },
      { signal: {} },
      { onProgress: 1 },
      { batchsize: 5 },
    ]) {
      await expect(sweepTables({ ...config, tables: [table] }, bad as never)).rejects.toThrow(
        TypeError,
      );
    }
  });

  it('a policy that never deletes leaves the table alone', async () => {
    const { table, remaining } = database([[1, 3000, 'u']]);
    const report = await sweepTables(
      { policies: policies({ events: {} }), holds: noHolds, tables: [table], own: [] },
      {},
    );
    expect(report.tables[0]).toMatchObject({ deleteCutoff: null, deleted: 0, batches: 0 });
    expect(remaining()).toHaveLength(1);
  });
});

describe('checkSweptTable', () => {
  const { table } = database([]);
  it('returns a frozen copy of a good table', () => {
    const checked = checkSweptTable({ ...table, table: 'app.events', key: 'pk' }, 't');
    expect(Object.isFrozen(checked)).toBe(true);
    expect(checked).toMatchObject({ table: 'app.events', key: 'pk', subject: 'user_id' });
  });
  it.each([
    [{ table: 'a.b.c' }, /t\.table/],
    [{ table: 'x;y' }, /t\.table/],
    [{ dataType: '' }, /t\.dataType/],
    [{ timestamp: 'a b' }, /t\.timestamp/],
    [{ timeType: 'date' }, /t\.timeType/],
    [{ key: 1 }, /t\.key/],
    [{ subject: '"' }, /t\.subject/],
    [{ anonymize: {} }, /t\.anonymize/],
    [{ anonymize: { email: {} } }, /t\.anonymize\.email/],
    [{ anonymize: { at: null } }, /t\.anonymize\.at/],
    [{ anonymize: { 'e-mail': null } }, /t\.anonymize/],
    [{ sweeper: {} }, /t\.sweeper/],
    [{ extra: 1 }, /extra/],
  ])('refuses %o', (patch, message) => {
    expect(() => checkSweptTable({ ...table, ...patch }, 't')).toThrow(message);
  });
  it('refuses a non-object', () => {
    expect(() => checkSweptTable(null, 'tables[2]')).toThrow(/tables\[2\] must be an object/);
  });
});

describe('ownData over the real modules', () => {
  it('lineage: purges records older than the age, keeps the rest', async () => {
    const clock = createManualClock(new Date(Date.now() - 3 * DAY).toISOString());
    const store = createMemoryLineageStore({ backend: createMemoryBackend({ clock }) });
    await store.migrate();
    const lineage = createLineage({ store });
    open.push(lineage);
    await lineage.record('old', { v: sourced(1, { source: 's' }) });
    clock.advance(3 * DAY);
    await lineage.record('new', { v: sourced(2, { source: 's' }) });
    const purge = ownData.lineage(lineage, { olderThan: '1 day' });
    expect(purge.name).toBe('lineage');
    expect(await purge.purge({})).toBe(1);
    expect(await lineage.explain('old', 'v')).toBeUndefined();
    expect((await lineage.explain('new', 'v'))?.value).toBe(2);
  });

  it('sagas: purges finished sagas older than the age', async () => {
    const store = createMemorySagaStore({ backend: createMemoryBackend() });
    await store.migrate();
    const ok = defineSaga({ name: 'ok' }).step('s', { run: async () => 1 });
    const sagas = createSagas({ store, sagas: [ok] });
    open.push(sagas);
    await sagas.run(ok, {}, { id: 'done' });
    expect(await ownData.sagas(sagas, { olderThan: '1 day' }).purge({})).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(await ownData.sagas(sagas, { olderThan: 'P0D' }).purge({})).toBe(1);
    expect(await sagas.get('done')).toBeUndefined();
  });

  it('idempotency: cleans up expired records', async () => {
    const clock = createManualClock('2026-01-01T00:00:00Z');
    const store = createMemoryIdempotencyStore({ backend: createMemoryBackend({ clock }) });
    await store.migrate();
    const idempotency = createIdempotency({ store, operation: 'op', retentionMs: 1000 });
    await idempotency.run('k', {}, async () => 1);
    const purge = ownData.idempotency(idempotency, { batchSize: 10 });
    expect(await purge.purge({})).toBe(0);
    clock.advance(2000);
    expect(await purge.purge({})).toBe(1);
  });

  it('refuses a module without the method and a bad age', () => {
    expect(() => ownData.lineage({} as never, { olderThan: '1 day' })).toThrow(/purge\(\)/);
    expect(() => ownData.sagas({ purge: async () => 0 }, { olderThan: 5 } as never)).toThrow(
      /options\.olderThan/,
    );
    expect(() =>
      ownData.outbox({ purge: async () => ({ published: 0, deadLettered: 0 }) }, {
        olderThan: '1 day',
        bogus: 1,
      } as never),
    ).toThrow(/bogus/);
  });

  it('outbox: adds published and dead-lettered counts', async () => {
    const calls: unknown[] = [];
    const purge = ownData.outbox(
      {
        purge: async (o) => {
          calls.push(o);
          return { published: 2, deadLettered: 1 };
        },
      },
      { olderThan: '7 days', deadLetteredOlderThan: '30 days' },
    );
    expect(await purge.purge({})).toBe(3);
    expect(calls).toEqual([
      { publishedOlderThanMs: 7 * DAY, deadLetteredOlderThanMs: 30 * DAY, batchSize: 1000 },
    ]);
    // The real outbox accepts exactly these options (it refuses unknown ones).
    const store = createMemoryOutboxStore({ backend: createMemoryBackend() });
    await store.migrate();
    const outbox = createOutbox({ store, topics: { t: z.object({}) } });
    expect(
      await ownData
        .outbox(outbox, { olderThan: '7 days', deadLetteredOlderThan: '1 day' })
        .purge({}),
    ).toBe(0);
  });
});
