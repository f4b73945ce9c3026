import { createServer, type Server, type Socket } from 'node:net';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeWithPostgres } from '../../../test/support/services.js';
import { uniqueNamespace } from '../../testing/index.js';
import { createPostgresBackend } from './postgres-backend.js';

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
  });
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
