/**
 * better-sqlite3 is synchronous: statements, transaction functions and user-defined SQL
 * functions run on the caller's stack, so they see the caller's flow context with no help
 * (AsyncLocalStorage alone; these tests prove it, concurrent contexts included). A function
 * registered with `db.function` sees the context of the statement that calls it, not the one it
 * was registered in.
 */
import { setTimeout as delay } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getContext, runWithContext } from '../../../src/core/context.js';

const correlationId = () => getContext()?.correlationId ?? null;

describe('better-sqlite3', () => {
  let db: Database.Database;
  beforeAll(() => {
    db = new Database(':memory:');
    db.exec('CREATE TABLE audit (id INTEGER PRIMARY KEY, correlation_id TEXT, note TEXT)');
    // Registered outside any context: it reads the context of whoever runs the statement.
    db.function('current_correlation_id', () => correlationId());
  });
  afterAll(() => db.close());

  it('gives a statement and a user-defined function the caller context', async () => {
    const insert = db.prepare(
      'INSERT INTO audit (correlation_id, note) VALUES (current_correlation_id(), ?) RETURNING correlation_id',
    );
    const rows = await Promise.all(
      ['a', 'b', 'c'].map((id) =>
        runWithContext({ correlationId: `sql-${id}` }, async () => {
          await delay(1);
          return insert.get(id) as { correlation_id: string };
        }),
      ),
    );
    expect(rows.map((row) => row.correlation_id)).toEqual(['sql-a', 'sql-b', 'sql-c']);
    expect(db.prepare('SELECT current_correlation_id() AS id').get()).toEqual({ id: null });
  });

  it('gives a transaction function, and the statements inside it, the caller context', () => {
    const seen: unknown[] = [];
    const record = db.transaction((note: string) => {
      seen.push(correlationId());
      db.prepare(
        'INSERT INTO audit (correlation_id, note) VALUES (current_correlation_id(), ?)',
      ).run(note);
    });
    runWithContext({ correlationId: 'tx-1' }, () => record('in tx'));
    expect(seen).toEqual(['tx-1']);
    expect(db.prepare("SELECT correlation_id FROM audit WHERE note = 'in tx'").get()).toEqual({
      correlation_id: 'tx-1',
    });
  });

  it('gives an aggregate function the caller context', () => {
    db.aggregate('correlated_count', {
      start: () => 0,
      step: (total: number, _id: unknown) => total + 1,
      result: (total: number) => `${correlationId()}:${total}`,
    });
    const row = runWithContext({ correlationId: 'agg-1' }, () =>
      db.prepare('SELECT correlated_count(id) AS r FROM audit').get(),
    );
    expect(row).toEqual({ r: expect.stringMatching(/^agg-1:\d+$/) });
  });
});
