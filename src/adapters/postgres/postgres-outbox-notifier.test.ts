import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeWithPostgres } from '../../../test/support/services.js';
import { sleep } from '../../core/async.js';
import { createPostgresBackend, type PostgresBackend } from './postgres-backend.js';
import { createPostgresOutboxNotifier } from './postgres-outbox-notifier.js';

async function until(check: () => boolean, ms = 3_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check() && Date.now() < end) await sleep(10);
}

describeWithPostgres('PostgreSQL outbox notifier (LISTEN/NOTIFY)', (url) => {
  let pool: pg.Pool;
  let backend: PostgresBackend;
  const connect = async () => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    return client;
  };

  beforeAll(() => {
    pool = new pg.Pool({ connectionString: url, max: 4 });
    backend = createPostgresBackend({ client: pool });
  });
  afterAll(async () => {
    await backend.close();
    await pool.end();
  });

  /** Ends the server session listening on `channel`, as a restart or a network cut would. */
  async function killListenConnection(channel: string): Promise<void> {
    await backend.execute(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
        WHERE pid <> pg_backend_pid() AND query = $1`,
      [`LISTEN ${channel}`],
    );
  }

  it('wakes a subscriber on notify (and once when it starts listening), not after unsubscribe', async () => {
    const channel = `outbox_test_${Date.now()}`;
    const notifier = createPostgresOutboxNotifier({ backend, connect, channel });
    let wakes = 0;
    const unsubscribe = await notifier.subscribe(() => {
      wakes += 1;
    });
    expect(wakes).toBe(1);
    await notifier.notify();
    await until(() => wakes === 2);
    expect(wakes).toBe(2);
    await unsubscribe();
    await notifier.notify();
    await sleep(100);
    expect(wakes).toBe(2);
  });

  it('coalesces concurrent notifies into at most two NOTIFY statements', async () => {
    const channel = `outbox_coalesce_${Date.now()}`;
    let statements = 0;
    const counting = new Proxy(backend, {
      get(target, property) {
        if (property === 'execute') {
          return (sql: string, params?: readonly unknown[]) => {
            statements += 1;
            return target.execute(sql, params);
          };
        }
        const value = Reflect.get(target, property);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const notifier = createPostgresOutboxNotifier({ backend: counting, channel });
    await Promise.all(Array.from({ length: 20 }, () => notifier.notify()));
    expect(statements).toBeGreaterThanOrEqual(1);
    expect(statements).toBeLessThanOrEqual(2);
  });

  it('listens again after its connection is killed', async () => {
    const channel = `outbox_reconnect_${Date.now()}`;
    const notifier = createPostgresOutboxNotifier({
      backend,
      connect,
      channel,
      reconnectDelayMs: 20,
    });
    let wakes = 0;
    const unsubscribe = await notifier.subscribe(() => {
      wakes += 1;
    });
    await killListenConnection(channel);
    // Reconnecting wakes the relay once (it may have missed notifications meanwhile).
    await until(() => wakes >= 2);
    expect(wakes).toBeGreaterThanOrEqual(2);
    const before = wakes;
    await notifier.notify();
    await until(() => wakes > before);
    expect(wakes).toBeGreaterThan(before);
    await unsubscribe();
  });

  it('keeps trying to listen again while the server is still down', async () => {
    const channel = `outbox_down_${Date.now()}`;
    let refusals = 0;
    const notifier = createPostgresOutboxNotifier({
      backend,
      channel,
      reconnectDelayMs: 20,
      // After the first connection, the next three attempts find the server down.
      connect: async () => {
        if (wakes > 0 && refusals < 3) {
          refusals += 1;
          throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
        }
        return connect();
      },
    });
    let wakes = 0;
    const unsubscribe = await notifier.subscribe(() => {
      wakes += 1;
    });
    await killListenConnection(channel);
    await until(() => wakes >= 2);
    expect(refusals).toBe(3);
    expect(wakes).toBeGreaterThanOrEqual(2);
    const before = wakes;
    await notifier.notify();
    await until(() => wakes > before);
    expect(wakes).toBeGreaterThan(before);
    await unsubscribe();
  });
});

describe('createPostgresOutboxNotifier options', () => {
  const fake = { kind: 'postgres', execute: async () => 0 } as unknown as PostgresBackend;
  it('refuses bad options with a TypeError naming them', async () => {
    expect(() => createPostgresOutboxNotifier({ backend: { kind: 'sqlite' } as never })).toThrow(
      /options\.backend must be a PostgreSQL backend/,
    );
    expect(() => createPostgresOutboxNotifier({ backend: fake, channel: 'a; DROP' })).toThrow(
      /options\.channel/,
    );
    expect(() => createPostgresOutboxNotifier({ backend: fake, connect: 'x' as never })).toThrow(
      /options\.connect/,
    );
    expect(() => createPostgresOutboxNotifier({ backend: fake, chanel: 'x' } as never)).toThrow(
      /chanel/,
    );
    await expect(
      createPostgresOutboxNotifier({ backend: fake }).subscribe(() => {}),
    ).rejects.toThrow(/options\.connect to listen/);
  });
});
