import { Redis } from 'ioredis';
import pg from 'pg';
import { expect, it } from 'vitest';
import { describeWithPostgres, describeWithRedis } from '../support/services.js';

describeWithPostgres('test PostgreSQL server', (url) => {
  it('answers queries on the test database, version 15 or later', async () => {
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    try {
      const { rows } = await pool.query<{ version: string; database: string }>(
        "SELECT current_setting('server_version_num') AS version, current_database() AS database",
      );
      expect(Number(rows[0]?.version)).toBeGreaterThanOrEqual(150000);
      expect(rows[0]?.database).toBe('flowproof_test');
    } finally {
      await pool.end();
    }
  });
});

describeWithRedis('test Redis server', (url) => {
  it('answers PING', async () => {
    const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await redis.connect();
      expect(await redis.ping()).toBe('PONG');
    } finally {
      redis.disconnect();
    }
  });
});
