import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { createSqliteBackend } from './sqlite-backend.js';
import { createSqliteOutboxStore } from './sqlite-outbox-store.js';

/**
 * A store over a connection that remembers every statement prepared through it, and SQLite's
 * plan for the one matching `pattern`.
 */
async function storeWithPlans() {
  const database = new Database(':memory:');
  const prepared: string[] = [];
  const connection = {
    prepare: (sql: string) => {
      prepared.push(sql);
      return database.prepare(sql);
    },
    exec: (sql: string) => database.exec(sql),
  };
  const store = createSqliteOutboxStore({ backend: createSqliteBackend({ database: connection }) });
  await store.migrate();
  const plan = (pattern: RegExp) => {
    const sql = prepared.find((text) => pattern.test(text));
    if (sql === undefined) throw new Error(`no statement matched ${pattern}`);
    const params = Array.from(sql.match(/\?/g) ?? [], () => null);
    return (database.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[])
      .map((row) => row.detail)
      .join('\n');
  };
  return { store, plan };
}

describe('createSqliteOutboxStore statement plans', () => {
  it('marks a batch published by looking each claimed id up, not by reading the id list per pending row', async () => {
    const { store, plan } = await storeWithPlans();
    await store.enqueue([
      { id: 'a', topic: 't', key: null, payload: 1, headers: {} },
      { id: 'b', topic: 't', key: null, payload: 2, headers: {} },
    ]);
    const claimed = await store.claim({ owner: 'o', leaseMs: 30_000, limit: 10 });
    expect(
      await store.markPublished(
        claimed.map((m) => m.id),
        'o',
      ),
    ).toBe(2);
    const markPublished = plan(/SET status = 'published'/);
    // The JSON id list is read once, and the table searched for each id: the cost grows with
    // the batch, not with the batch times the backlog.
    expect(markPublished).toMatch(/SEARCH \S+ USING INDEX \S+ \(id=\?\)/);
    expect(markPublished).not.toMatch(/SCAN \S*flowproof_outbox_messages/);
  });

  it('claims by walking the pending rows in position order, not by sorting every pending row', async () => {
    const { store, plan } = await storeWithPlans();
    await store.claim({ owner: 'o', leaseMs: 30_000, limit: 10 });
    const claim = plan(/picked AS MATERIALIZED/);
    // The pending rows come from the partial index on position, already in order: the scan
    // stops after `limit` claimable rows however long the backlog is.
    expect(claim).toMatch(/SCAN c USING INDEX \S+_pending/);
    expect(claim).not.toMatch(/TEMP B-TREE FOR ORDER BY/);
  });

  it('pages through dead letters along the (status, id) index', async () => {
    const { store, plan } = await storeWithPlans();
    expect(await store.list({ status: 'dead_lettered', limit: 10 })).toEqual([]);
    expect(await store.list({ status: 'pending', limit: 10 })).toEqual([]);
    const finished = plan(/ORDER BY id/); // the first list statement: dead letters
    expect(finished).toMatch(/USING INDEX \S+_status \(status=\?/);
    expect(finished).not.toMatch(/TEMP B-TREE FOR ORDER BY/);
  });
});
