import { afterAll, describe, it } from 'vitest';
import { describeIdempotencyStoreConformance } from '../../src/testing/index.js';
import { exposeServiceUrlsToChildProcesses } from '../support/services.js';
import { closeSharedClients, crossProcessTarget } from './backends.js';
import {
  memoryIdempotencyTarget,
  pgliteIdempotencyTarget,
  postgresIdempotencyTarget,
  redisIdempotencyTarget,
  sqliteIdempotencyTarget,
} from './idempotency-stores.js';

// Child processes read the server addresses from the environment.
exposeServiceUrlsToChildProcesses();

const test = { describe, it };
const crossProcess = (exportName: string) =>
  crossProcessTarget(new URL('./idempotency-stores.ts', import.meta.url), exportName);

describeIdempotencyStoreConformance({ ...memoryIdempotencyTarget, test });
describeIdempotencyStoreConformance({
  ...sqliteIdempotencyTarget,
  test,
  crossProcess: crossProcess('sqliteIdempotencyTarget'),
});
describeIdempotencyStoreConformance({ ...pgliteIdempotencyTarget, test, trials: 100 });

if (process.env.FLOWPROOF_TEST_POSTGRES_URL) {
  describeIdempotencyStoreConformance({
    ...postgresIdempotencyTarget,
    test,
    crossProcess: crossProcess('postgresIdempotencyTarget'),
  });
} else {
  describe.skip('IdempotencyStore conformance: postgres (skipped: no PostgreSQL server)', () => {});
}

if (process.env.FLOWPROOF_TEST_REDIS_URL) {
  describeIdempotencyStoreConformance({
    ...redisIdempotencyTarget,
    test,
    crossProcess: crossProcess('redisIdempotencyTarget'),
  });
} else {
  describe.skip('IdempotencyStore conformance: redis (skipped: no Redis server)', () => {});
}

afterAll(closeSharedClients);
