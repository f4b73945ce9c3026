import { createServer, type Server, type Socket } from 'node:net';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entityInsert } from '../../../test/support/entity-rows.js';
import { describeWithPostgres } from '../../../test/support/services.js';
import { uniqueNamespace } from '../../testing/index.js';
import { createPostgresBackend } from './postgres-backend.js';
import { createPostgresEntityStore } from './postgres-entity-store.js';

describe('createPostgresBackend options', () => {
  const client = { query: async () => ({ rows: [] }) };

  it('names the offending option', () => {
    expect(() => createPostgresBackend({} as never)).toThrow(/options.client/);
    expect(() => createPostgresBackend({ client, schema: 'a-b' })).toThrow(/options.schema/);
    expect(() => createPostgresBackend({ client, tablePrefix: 'x;' })).toThrow(
      /options.tablePrefix/,
    );
    expect(() => createPostgresBackend({ client, timeoutMs: 0 })).toThrow(/options.timeoutMs/);
  });

  it('quotes and qualifies table names', () => {
    expect(createPostgresBackend({ client }).table('keys')).toBe('"flowproof_keys"');
    expect(createPostgresBackend({ client, schema: 'app', tablePrefix: '' }).table('keys')).toBe(
      '"app"."keys"',
    );
    expect(() => createPostgresBackend({ client }).table('k"eys')).toThrow(TypeError);
  });
});

describe('PostgreSQL backend failures are typed and bounded', () => {
  let silent: Server;
  let silentPort = 0;
  const sockets = new Set<Socket>();
  beforeAll(async () => {
    // Accepts connections and never answers: the shape of a hung server or a black-holed route.
    silent = createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    silentPort = (silent.address() as { port: number }).port;
  });
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
  });

  it('reports a refused connection as BACKEND_UNAVAILABLE', async () => {
    const pool = new pg.Pool({ host: '127.0.0.1', port: 1, user: 'x', database: 'x' });
    const backend = createPostgresBackend({ client: pool });
    await expect(backend.now()).rejects.toMatchObject({ code: 'BACKEND_UNAVAILABLE' });
    await pool.end();
  });

  it('never hangs on a server that does not answer', async () => {
    const pool = new pg.Pool({ host: '127.0.0.1', port: silentPort, user: 'x', database: 'x' });
    const backend = createPostgresBackend({ client: pool, timeoutMs: 300 });
    const started = Date.now();
    await expect(backend.now()).rejects.toMatchObject({ code: 'BACKEND_TIMEOUT' });
    await expect(backend.transaction(async () => 1)).rejects.toMatchObject({
      code: 'BACKEND_TIMEOUT',
    });
    expect(Date.now() - started).toBeLessThan(5_000);
    pool.end().catch(() => {});
  });
});

describe('PGlite', () => {
  it('reports a missing table as SCHEMA_OUTDATED and a failing statement as BACKEND_ERROR', async () => {
    const db = new PGlite();
    const backend = createPostgresBackend({ client: db, ownsClient: true });
    await expect(backend.query(`SELECT * FROM ${backend.table('nope')}`)).rejects.toMatchObject({
      code: 'SCHEMA_OUTDATED',
    });
    await expect(backend.query('SELECT 1/0')).rejects.toMatchObject({
      code: 'BACKEND_ERROR',
      details: { sqlstate: '22012' },
    });
    await backend.close();
    expect(db.closed).toBe(true);
    // PGlite boots a WebAssembly PostgreSQL: seconds alone, more on a busy machine.
  }, 90_000);
});

describeWithPostgres('PostgreSQL server', (url) => {
  let pool: pg.Pool;
  beforeAll(() => {
    pool = new pg.Pool({ connectionString: url, max: 10 });
  });
  afterAll(() => pool.end());

  it('turns a slow statement into BACKEND_TIMEOUT and recycles the connection', async () => {
    const backend = createPostgresBackend({ client: pool, timeoutMs: 200 });
    await expect(backend.transaction((tx) => tx.query('SELECT pg_sleep(2)'))).rejects.toMatchObject(
      { code: 'BACKEND_TIMEOUT' },
    );
    // The pool still serves healthy connections afterwards.
    const [row] = await backend.query<{ ok: number }>('SELECT 1 AS ok');
    expect(row?.ok).toBe(1);
  });

  it('reports a database that does not exist as BACKEND_MISCONFIGURED', async () => {
    const wrong = new pg.Pool({ connectionString: url.replace(/\/[^/]+$/, '/no_such_database') });
    const backend = createPostgresBackend({ client: wrong });
    await expect(backend.now()).rejects.toMatchObject({
      code: 'BACKEND_MISCONFIGURED',
      details: { sqlstate: '3D000' },
    });
    await wrong.end();
  });

  it('runs transactions on a single pg.Client one at a time', async () => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const schema = uniqueNamespace();
    const backend = createPostgresBackend({ client, schema });
    await backend.execute(`CREATE SCHEMA ${schema}`);
    await backend.execute(`CREATE TABLE ${backend.table('t')} (id text primary key)`);
    const results = await Promise.allSettled([
      backend.transaction(async (tx) => {
        await tx.execute(`INSERT INTO ${tx.table('t')} VALUES ('kept')`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }),
      backend.transaction(async (tx) => {
        await tx.execute(`INSERT INTO ${tx.table('t')} VALUES ('dropped')`);
        throw new Error('rollback me');
      }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
    const rows = await backend.query<{ id: string }>(`SELECT id FROM ${backend.table('t')}`);
    expect(rows.map((r) => r.id)).toEqual(['kept']);
    await client.end();
  });

  it('prepares parameterised statements once per connection, unless told not to', async () => {
    for (const preparedStatements of [true, false]) {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      const backend = createPostgresBackend({ client, preparedStatements });
      for (let i = 0; i < 3; i += 1) {
        const [row] = await backend.query<{ n: number }>('SELECT $1::int + 1 AS n', [i]);
        expect(row?.n).toBe(i + 1);
      }
      const { rows } = await client.query(
        "SELECT count(*)::int AS n FROM pg_prepared_statements WHERE name LIKE 'flowproof_%'",
      );
      expect(rows[0].n).toBe(preparedStatements ? 1 : 0);
      await client.end();
    }
  });

  it('on a pool, refuses an unbound store writing from inside a transaction, but lets plain statements run beside it', async () => {
    const backend = createPostgresBackend({ client: pool, schema: uniqueNamespace() });
    const store = createPostgresEntityStore({ backend });
    await store.migrate();
    const { entity, history } = entityInsert('order', 'o-1');
    await expect(
      backend.transaction(async () => {
        await store.insert({ entity, history });
      }),
    ).rejects.toMatchObject({
      code: 'TRANSACTION_UNSUPPORTED',
      details: { backend: 'postgres', reason: 'reentrant' },
      message: expect.stringMatching(/withBackend\(tx\)/),
    });
    expect(await store.load('order', 'o-1')).toBeUndefined();
    // Bound to the transaction, it writes inside it.
    await backend.transaction((tx) => store.withBackend(tx).insert({ entity, history }));
    expect(await store.load('order', 'o-1')).toMatchObject({ id: 'o-1' });
    // A plain statement on the pool runs on another connection, outside the transaction.
    const [outside] = await backend.transaction(() =>
      backend.query<{ ok: number }>('SELECT 1 AS ok'),
    );
    expect(outside?.ok).toBe(1);
  });

  it('reads the server clock with clock_timestamp(), moving inside a transaction', async () => {
    const backend = createPostgresBackend({ client: pool });
    await backend.transaction(async (tx) => {
      const first = await tx.now();
      await tx.query('SELECT pg_sleep(0.02)');
      const second = await tx.now();
      expect(second.getTime() - first.getTime()).toBeGreaterThanOrEqual(15);
    });
  });
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('PGlite transactions and close()', () => {
  it('refuses the backend itself inside its PGlite transaction instead of waiting for itself', async () => {
    const db = new PGlite();
    const backend = createPostgresBackend({ client: db, ownsClient: true });
    const reentrant = { code: 'TRANSACTION_UNSUPPORTED', details: { reason: 'reentrant' } };
    await expect(backend.transaction(() => backend.query('SELECT 1'))).rejects.toMatchObject(
      reentrant,
    );
    await expect(
      backend.transaction(() => backend.transaction(async () => 1)),
    ).rejects.toMatchObject(reentrant);
    expect(await backend.query('SELECT 1 AS ok')).toEqual([{ ok: 1 }]);
    await backend.close();
  });

  it('closing a transaction-bound backend leaves the owner able to close the database', async () => {
    const db = new PGlite();
    const backend = createPostgresBackend({ client: db, ownsClient: true });
    await backend.transaction(async (tx) => {
      await tx.close();
      await expect(tx.query('SELECT 1')).rejects.toMatchObject({ code: 'BACKEND_CLOSED' });
    });
    expect(await backend.query('SELECT 1 AS ok')).toEqual([{ ok: 1 }]);
    await backend.close();
    expect(db.closed).toBe(true);
  });
});

describeWithPostgres('PostgreSQL server: timeouts, closing and lost statements', (url) => {
  let admin: pg.Pool;
  beforeAll(() => {
    admin = new pg.Pool({ connectionString: url, max: 2 });
  });
  afterAll(() => admin.end());

  async function table(): Promise<string> {
    const name = `t_${uniqueNamespace()}`;
    await admin.query(`CREATE TABLE ${name} (id int)`);
    return name;
  }
  async function ids(name: string): Promise<number[]> {
    const { rows } = await admin.query(`SELECT id FROM ${name} ORDER BY id`);
    return rows.map((row: { id: number }) => row.id);
  }
  /**
   * A client whose statements cannot be cancelled (as when the cancel cannot reach the server):
   * what must hold when a timed-out statement runs on to its end.
   */
  async function uncancellableClient(): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    (client as unknown as { processID: unknown }).processID = null;
    return client;
  }

  it('never leaves a single pg.Client inside a transaction after a timed-out BEGIN', async () => {
    const name = await table();
    const client = await uncancellableClient();
    const backend = createPostgresBackend({ client, timeoutMs: 300 });
    await expect(backend.transaction((tx) => tx.query('SELECT pg_sleep(1)'))).rejects.toMatchObject(
      { code: 'BACKEND_TIMEOUT' },
    );
    // At once: this BEGIN waits behind the sleep, times out, and is run by the server later.
    const second = await backend
      .transaction((tx) => tx.execute(`INSERT INTO ${name} VALUES (2)`))
      .then(
        () => 'committed',
        (error: { code?: string }) => error.code,
      );
    await sleep(1_200);
    expect(await backend.execute(`INSERT INTO ${name} VALUES (3)`)).toBe(1);
    // Another session sees the autocommit write: the client is not stuck in a transaction.
    expect(second).toBe('BACKEND_TIMEOUT');
    expect(await ids(name)).toEqual([3]);
    await client.end();
  });

  it('follows a timed-out COMMIT on a single pg.Client with a ROLLBACK queued behind it', async () => {
    const name = await table();
    const other = await table();
    // A deferred constraint trigger makes COMMIT itself slow.
    await admin.query(
      `CREATE FUNCTION ${name}_slow() RETURNS trigger LANGUAGE plpgsql AS
         $$ BEGIN PERFORM pg_sleep(0.8); RETURN NULL; END $$;
       CREATE CONSTRAINT TRIGGER slow AFTER INSERT ON ${name} DEFERRABLE INITIALLY DEFERRED
         FOR EACH ROW EXECUTE FUNCTION ${name}_slow()`,
    );
    const client = await uncancellableClient();
    const backend = createPostgresBackend({ client, timeoutMs: 300 });
    await expect(
      backend.transaction((tx) => tx.execute(`INSERT INTO ${name} VALUES (1)`)),
    ).rejects.toMatchObject({ code: 'BACKEND_TIMEOUT' });
    await sleep(1_100);
    expect(await backend.execute(`INSERT INTO ${other} VALUES (2)`)).toBe(1);
    // The COMMIT did run (a timed-out COMMIT is ambiguous); the client is out of any transaction.
    expect(await ids(name)).toEqual([1]);
    expect(await ids(other)).toEqual([2]);
    await client.end();
  });

  it('keeps autocommit statements on a single pg.Client out of a running transaction', async () => {
    const name = await table();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const backend = createPostgresBackend({ client });
    const failing = backend.transaction(async (tx) => {
      await tx.execute(`INSERT INTO ${name} VALUES (1)`);
      await sleep(50);
      throw new Error('roll back');
    });
    await sleep(10);
    // Issued while the transaction is open: it must neither join it nor be rolled back with it.
    const autocommit = backend.execute(`INSERT INTO ${name} VALUES (2)`);
    await expect(failing).rejects.toThrow('roll back');
    expect(await autocommit).toBe(1);
    expect(await ids(name)).toEqual([2]);
    // Inside the transaction the root backend is refused instead of waiting for itself.
    await expect(backend.transaction(() => backend.query('SELECT 1'))).rejects.toMatchObject({
      code: 'TRANSACTION_UNSUPPORTED',
    });
    await client.end();
  });

  it('sends one statement at a time on a single pg.Client: no pg warning, all in order', async () => {
    const name = `t_${uniqueNamespace()}`;
    await admin.query(`CREATE TABLE ${name} (seq serial, id int)`);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const send = client.query.bind(client) as (...args: unknown[]) => Promise<unknown>;
    let running = 0;
    let most = 0;
    const done = () => {
      running -= 1;
    };
    (client as unknown as { query: typeof send }).query = (...args) => {
      running += 1;
      most = Math.max(most, running);
      const pending = send(...args);
      pending.then(done, done);
      return pending;
    };
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.message);
    process.on('warning', onWarning);
    try {
      const backend = createPostgresBackend({ client });
      const insert = (tx: typeof backend, id: number) =>
        tx.execute(`INSERT INTO ${name} (id) VALUES ($1)`, [id]);
      await Promise.all([
        ...Array.from({ length: 10 }, (_, i) => insert(backend, i)),
        // Statements of one transaction issued together queue the same way.
        backend.transaction((tx) => Promise.all([10, 11, 12].map((i) => insert(tx, i)))),
        ...Array.from({ length: 5 }, (_, i) => insert(backend, 13 + i)),
      ]);
      await sleep(10);
    } finally {
      process.off('warning', onWarning);
      await client.end();
    }
    expect(most).toBe(1);
    expect(warnings.filter((message) => /already executing a query/.test(message))).toEqual([]);
    const { rows } = await admin.query(`SELECT id FROM ${name} ORDER BY seq`);
    expect(rows.map((row: { id: number }) => row.id)).toEqual(
      Array.from({ length: 18 }, (_, i) => i),
    );
  });

  it('cancels a timed-out statement on the server: it is gone from pg_stat_activity', async () => {
    const running = async (marker: string) => {
      const { rows } = await admin.query(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'active' AND query LIKE $1 AND pid <> pg_backend_pid()",
        [`%${marker}%`],
      );
      return rows[0].n as number;
    };
    const pool = new pg.Pool({ connectionString: url, max: 2 });
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const pooled = createPostgresBackend({ client: pool, timeoutMs: 300 });
      const single = createPostgresBackend({ client, timeoutMs: 300 });
      const cases = {
        pooled: (sql: string) => pooled.query(sql),
        'pooled transaction': (sql: string) => pooled.transaction((tx) => tx.query(sql)),
        'single client': (sql: string) => single.query(sql),
        'single client transaction': (sql: string) => single.transaction((tx) => tx.query(sql)),
      };
      for (const [label, run] of Object.entries(cases)) {
        const marker = uniqueNamespace('cancel');
        await expect(run(`SELECT pg_sleep(5) AS ${marker}`), label).rejects.toMatchObject({
          code: 'BACKEND_TIMEOUT',
        });
        let left = await running(marker);
        for (let i = 0; i < 20 && left > 0; i += 1) {
          await sleep(50);
          left = await running(marker);
        }
        expect(left, label).toBe(0);
      }
      // The single client goes on: its next statement ran after the cancelled one.
      expect(await single.query('SELECT 1 AS ok')).toEqual([{ ok: 1 }]);
    } finally {
      await client.end();
      await pool.end();
    }
  });

  it('destroys the pooled connection of a statement that timed out outside a transaction', async () => {
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    const backend = createPostgresBackend({ client: pool, timeoutMs: 500 });
    await expect(backend.query('SELECT pg_sleep(2)')).rejects.toMatchObject({
      code: 'BACKEND_TIMEOUT',
    });
    // Before the connection was destroyed, this waited behind the sleep and timed out too.
    expect(await backend.query('SELECT 1 AS ok')).toEqual([{ ok: 1 }]);
    await pool.end();
  });

  it('keeps a pooled connection after an ordinary SQL error', async () => {
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    const backend = createPostgresBackend({ client: pool });
    const [before] = await backend.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    await expect(backend.query('SELECT 1/$1::int', [0])).rejects.toMatchObject({
      code: 'BACKEND_ERROR',
    });
    const [after] = await backend.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    expect(after?.pid).toBe(before?.pid);
    await pool.end();
  });

  it('closing a transaction-bound or joined backend does not close, or leak, the owner', async () => {
    const pool = new pg.Pool({ connectionString: url, max: 2 });
    const backend = createPostgresBackend({ client: pool, ownsClient: true });
    await backend.transaction(async (tx) => {
      await tx.close();
      await expect(tx.query('SELECT 1')).rejects.toMatchObject({ code: 'BACKEND_CLOSED' });
    });
    const conn = await pool.connect();
    const joined = backend.withTransactionClient(conn);
    await joined.close();
    await expect(joined.query('SELECT 1')).rejects.toMatchObject({ code: 'BACKEND_CLOSED' });
    conn.release();
    expect(await backend.query('SELECT 1 AS ok')).toEqual([{ ok: 1 }]);
    await backend.close();
    expect(pool.ended).toBe(true);
    await expect(backend.query('SELECT 1')).rejects.toMatchObject({ code: 'BACKEND_CLOSED' });
  });

  it('a pool its owner ended is BACKEND_CLOSED (details.reason: client-ended)', async () => {
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    const backend = createPostgresBackend({ client: pool });
    expect(await backend.query('SELECT 1 AS ok')).toEqual([{ ok: 1 }]);
    await pool.end();
    await expect(backend.query('SELECT 1')).rejects.toMatchObject({
      code: 'BACKEND_CLOSED',
      details: { backend: 'postgres', reason: 'client-ended' },
    });
    await expect(backend.transaction(async () => {})).rejects.toMatchObject({
      code: 'BACKEND_CLOSED',
    });
  });

  it('refuses a transaction-bound backend once its transaction ended', async () => {
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    const backend = createPostgresBackend({ client: pool });
    let leaked: typeof backend | undefined;
    await backend.transaction(async (tx) => {
      leaked = tx;
    });
    await expect(leaked?.execute('SELECT 1')).rejects.toMatchObject({
      code: 'BACKEND_CLOSED',
      message: expect.stringMatching(/transaction .*ended/),
    });
    await expect(leaked?.transaction(async () => 1)).rejects.toMatchObject({
      code: 'BACKEND_CLOSED',
    });
    await expect(
      backend.transaction(async (tx) => {
        leaked = tx;
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    await expect(leaked?.query('SELECT 1')).rejects.toMatchObject({ code: 'BACKEND_CLOSED' });
    await pool.end();
  });

  it('re-runs a statement whose prepared statement was discarded, outside a transaction', async () => {
    const sql = 'SELECT $1::int + 40 AS n';
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    const pooled = createPostgresBackend({ client: pool });
    expect(await pooled.query(sql, [1])).toEqual([{ n: 41 }]);
    await pool.query('DISCARD ALL');
    expect(await pooled.query(sql, [2])).toEqual([{ n: 42 }]);
    expect(await pooled.query(sql, [3])).toEqual([{ n: 43 }]);
    await pool.end();

    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const single = createPostgresBackend({ client });
    expect(await single.query(sql, [1])).toEqual([{ n: 41 }]);
    await client.query('DISCARD ALL');
    for (const n of [2, 3]) expect(await single.query(sql, [n])).toEqual([{ n: 40 + n }]);
    await client.end();
  });

  it('explains a discarded prepared statement inside a transaction, which cannot be retried', async () => {
    const sql = 'SELECT $1::int + 50 AS n';
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const backend = createPostgresBackend({ client });
    expect(await backend.query(sql, [1])).toEqual([{ n: 51 }]);
    await client.query('DISCARD ALL');
    await expect(backend.transaction((tx) => tx.query(sql, [2]))).rejects.toMatchObject({
      code: 'BACKEND_ERROR',
      details: { sqlstate: '26000' },
      message: expect.stringMatching(/cannot be retried/),
    });
    // The transaction was rolled back; the backend goes on without the discarded statements.
    expect(await backend.transaction((tx) => tx.query(sql, [3]))).toEqual([{ n: 53 }]);
    expect(await backend.query(sql, [4])).toEqual([{ n: 54 }]);
    await client.end();
  });
});
