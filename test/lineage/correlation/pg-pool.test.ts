/**
 * The flow context through a `pg.Pool` that is exhausted: a waiter's callback, and the pool's
 * `acquire`/`connect` events for it, are run from another caller's `release()`, so without help
 * they see THAT caller's context (a long-standing node-postgres behaviour). Each case first
 * proves the loss on a raw pool, then that `bindPoolToContext` fixes it. Real `pg` against the
 * test PostgreSQL.
 */
import pg from 'pg';
import { afterEach, expect, it } from 'vitest';
import { getContext, runWithContext } from '../../../src/core/context.js';
import { bindPoolToContext } from '../../../src/lineage/index.js';
import { describeWithPostgres } from '../../support/services.js';

const correlationId = () => getContext()?.correlationId;

describeWithPostgres('pg.Pool callbacks and events under contention', (url) => {
  const pools: pg.Pool[] = [];
  afterEach(async () => {
    await Promise.all(pools.splice(0).map((pool) => pool.end()));
  });
  /** A pool of one connection, already connected (so the waiter is served by a release). */
  async function exhaustiblePool(bind: boolean): Promise<pg.Pool> {
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    pools.push(pool);
    await pool.query('SELECT 1');
    return bind ? bindPoolToContext(pool) : pool;
  }

  /**
   * Context A holds the only connection; context B queues `queue(pool)` behind it; A releases
   * from a timer of its own. Returns what B's callback saw (without help: A's context, whose
   * release serves B).
   */
  async function contended(
    pool: pg.Pool,
    queue: (pool: pg.Pool, done: (seen: string | undefined) => void) => void,
  ): Promise<string | undefined> {
    const held = await runWithContext({ correlationId: 'holder-A' }, () => pool.connect());
    const seen = new Promise<string | undefined>((resolve) =>
      runWithContext({ correlationId: 'waiter-B' }, () => queue(pool, resolve)),
    );
    expect(pool.waitingCount).toBe(1);
    runWithContext({ correlationId: 'holder-A' }, () => setTimeout(() => held.release(), 5));
    return seen;
  }

  const queuedQuery = (pool: pg.Pool, done: (seen: string | undefined) => void) =>
    void pool.query('SELECT $1::int AS n', [1], (error) => {
      expect(error).toBeFalsy();
      done(correlationId());
    });
  const queuedConnect = (pool: pg.Pool, done: (seen: string | undefined) => void) =>
    void pool.connect((error, client, release) => {
      expect(error).toBeFalsy();
      expect(client).toBeDefined();
      done(correlationId());
      release();
    });

  it('loses the waiter context in pool.query(text, values, callback) on a raw pool', async () => {
    // The callback runs in the context of whoever opened the connection (here: none).
    expect(await contended(await exhaustiblePool(false), queuedQuery)).not.toBe('waiter-B');
  });

  it('keeps it with bindPoolToContext', async () => {
    expect(await contended(await exhaustiblePool(true), queuedQuery)).toBe('waiter-B');
  });

  it('loses it in pool.connect(callback) on a raw pool, keeps it with bindPoolToContext', async () => {
    expect(await contended(await exhaustiblePool(false), queuedConnect)).toBe('holder-A');
    expect(await contended(await exhaustiblePool(true), queuedConnect)).toBe('waiter-B');
  });

  it('runs the acquire event for a waiter in the waiter context with bindPoolToContext', async () => {
    for (const [bind, expected] of [
      [false, 'holder-A'],
      [true, 'waiter-B'],
    ] as const) {
      const pool = await exhaustiblePool(bind);
      const acquired: (string | undefined)[] = [];
      const released: (string | undefined)[] = [];
      pool.on('acquire', () => acquired.push(correlationId()));
      pool.on('release', () => released.push(correlationId()));
      await contended(pool, queuedConnect);
      // The holder's own checkout, then the waiter's.
      expect(acquired).toEqual(['holder-A', expected]);
      // release is emitted where release() is called: in the waiter's callback, so right only
      // once that callback runs in the waiter's context.
      expect(released).toEqual(['holder-A', expected]);
    }
  });

  it('runs connect for a waiter served by a new connection in the waiter context', async () => {
    for (const [bind, expected] of [
      [false, undefined],
      [true, 'waiter-B'],
    ] as const) {
      const pool = await exhaustiblePool(bind);
      const connected: (string | undefined)[] = [];
      pool.on('connect', () => connected.push(correlationId()));
      const held = await runWithContext({ correlationId: 'holder-A' }, () => pool.connect());
      const seen = new Promise((resolve) =>
        runWithContext({ correlationId: 'waiter-B' }, () => queuedConnect(pool, resolve)),
      );
      // Released with an error: the connection is destroyed and the waiter gets a new one.
      runWithContext({ correlationId: 'holder-A' }, () =>
        setTimeout(() => held.release(new Error('discard')), 5),
      );
      expect(await seen).toBe(expected);
      expect(connected).toEqual([expected]);
    }
  });

  it('needs nothing for promises: await pool.query and await pool.connect keep the context', async () => {
    // Proof that AsyncLocalStorage alone carries it: the continuation of an await runs in the
    // context that awaited, whoever resolved the promise.
    const pool = await exhaustiblePool(false);
    const held = await runWithContext({ correlationId: 'holder-A' }, () => pool.connect());
    const waiters = runWithContext({ correlationId: 'waiter-B' }, async () => {
      await pool.query('SELECT 1');
      const afterQuery = correlationId();
      const client = await pool.connect();
      client.release();
      return [afterQuery, correlationId()];
    });
    runWithContext({ correlationId: 'holder-A' }, () => setTimeout(() => held.release(), 5));
    expect(await waiters).toEqual(['waiter-B', 'waiter-B']);
  });

  it('is idempotent and returns the same pool', async () => {
    const pool = await exhaustiblePool(true);
    expect(bindPoolToContext(pool)).toBe(pool);
    expect(await contended(pool, queuedQuery)).toBe('waiter-B');
    expect(() => bindPoolToContext({} as never)).toThrow(/pool/);
  });
});
