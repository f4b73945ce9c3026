import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { createSqliteBackend, createSqliteTableSweeper } from '../adapters/sqlite/index.js';
import { createDataMap, type ErasureContext } from './data-map.js';
import type { SweptTable } from './sweeper.js';
import { tableLocation } from './table-location.js';

const open: Database.Database[] = [];
afterEach(() => {
  for (const db of open.splice(0)) db.close();
});

function orders(rows: number) {
  const db = new Database(':memory:');
  open.push(db);
  db.exec('CREATE TABLE orders (id INTEGER PRIMARY KEY, at TEXT, user_id TEXT, email TEXT)');
  const insert = db.prepare('INSERT INTO orders VALUES (?, ?, ?, ?)');
  for (let i = 1; i <= rows; i++)
    insert.run(i, '2020-01-01T00:00:00.000Z', i % 3 === 0 ? 'bob' : 'ann', `${i}@x`);
  const table: SweptTable = {
    table: 'orders',
    dataType: 'order_history',
    timestamp: 'at',
    subject: 'user_id',
    anonymize: { email: 'gone' },
    sweeper: createSqliteTableSweeper({ backend: createSqliteBackend({ database: db }) }),
  };
  const count = (where: string) =>
    (db.prepare(`SELECT count(*) AS n FROM orders WHERE ${where}`).get() as { n: number }).n;
  return { db, table, count };
}

function context(subject: string, identifiers: unknown = [subject]): ErasureContext {
  return {
    subject,
    identifiers,
    requestId: 'r1',
    location: 'orders',
    idempotencyKey: 'r1:orders',
    attempt: 1,
    signal: new AbortController().signal,
  };
}

describe('tableLocation', () => {
  it('deletes the subject in batches until a batch comes back short, then verifies 0', async () => {
    const { table, count } = orders(50);
    const location = tableLocation(table, { name: 'orders', action: 'delete', batchSize: 7 });
    expect(location).toMatchObject({
      name: 'orders',
      kind: 'sql-table',
      group: 'Primary Database',
      label: 'orders table',
      dataType: 'order_history',
      action: 'delete',
    });
    expect(await location.resolve?.('ann', { signal: new AbortController().signal })).toEqual([
      'ann',
    ]);
    expect(await location.verify?.(context('ann'))).toBe(34);
    expect(await location.erase?.(context('ann'))).toEqual({ affected: 34 });
    expect(await location.verify?.(context('ann'))).toBe(0);
    expect(count("user_id = 'bob'")).toBe(16);
    // Idempotent: a second run finds nothing.
    expect(await location.erase?.(context('ann'))).toEqual({ affected: 0 });
  });

  it('anonymizes the fields, verifying rows not yet anonymized', async () => {
    const { table, count } = orders(10);
    const location = tableLocation(table, {
      name: 'orders',
      action: 'anonymize',
      group: 'Billing',
      label: 'Orders',
      after: ['users'],
    });
    expect(location).toMatchObject({ fields: ['email'], after: ['users'], group: 'Billing' });
    expect(await location.verify?.(context('bob'))).toBe(3);
    expect(await location.erase?.(context('bob'))).toEqual({ affected: 3 });
    expect(await location.verify?.(context('bob'))).toBe(0);
    expect(count("email = 'gone'")).toBe(3);
    expect(count("user_id = 'bob'")).toBe(3);
    // It goes into a data map and shows in the tree.
    const map = createDataMap([
      { name: 'users', kind: 'sql-table', action: 'delete', erase: () => undefined },
      location,
    ]);
    expect(map.toTree()).toContain('Orders');
  });

  it('erases every stored identifier', async () => {
    const { table, count } = orders(9);
    const location = tableLocation(table, { name: 'orders', action: 'delete' });
    expect(await location.erase?.(context('x', ['ann', 'bob']))).toEqual({ affected: 9 });
    expect(count('1 = 1')).toBe(0);
  });

  it('stops when the signal aborts', async () => {
    const { table } = orders(5);
    const location = tableLocation(table, { name: 'orders', action: 'delete' });
    const controller = new AbortController();
    controller.abort();
    await expect(
      location.erase?.({ ...context('ann'), signal: controller.signal }),
    ).rejects.toThrow();
  });

  it('refuses a table it cannot erase by subject, and bad options, naming them', () => {
    const { table } = orders(0);
    const { subject: _, ...noSubject } = table;
    const { anonymize: __, ...noColumns } = table;
    expect(() => tableLocation(noSubject, { name: 'o', action: 'delete' })).toThrow(
      /table\.subject/,
    );
    expect(() => tableLocation(noColumns, { name: 'o', action: 'anonymize' })).toThrow(
      /table\.anonymize/,
    );
    expect(() => tableLocation(table, { name: '', action: 'delete' })).toThrow(/options\.name/);
    expect(() => tableLocation(table, { name: 'o', action: 'retain' } as never)).toThrow(
      /options\.action/,
    );
    expect(() => tableLocation(table, { name: 'o', action: 'delete', batchSize: 0 })).toThrow(
      /options\.batchSize/,
    );
    expect(() => tableLocation(table, { name: 'o', action: 'delete', label: 1 } as never)).toThrow(
      /options\.label/,
    );
    expect(() =>
      tableLocation({ ...table, table: 'a;b' }, { name: 'o', action: 'delete' }),
    ).toThrow(/table\.table/);
  });
});
