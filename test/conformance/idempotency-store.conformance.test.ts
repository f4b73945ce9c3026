import { fileURLToPath } from 'node:url';
import { afterAll, describe, inject, it } from 'vitest';
import {
  type CrossProcessTarget,
  describeIdempotencyStoreConformance,
} from '../../src/testing/index.js';
import { closeSharedClients } from './backends.js';
import {
  memoryIdempotencyTarget,
  pgliteIdempotencyTarget,
  postgresIdempotencyTarget,
  redisIdempotencyTarget,
  sqliteIdempotencyTarget,
} from './idempotency-stores.js';

// Child processes read the server addresses from the environment.
for (const [variable, url] of [
  ['FLOWPROOF_TEST_POSTGRES_URL', inject('postgresUrl')],
  ['FLOWPROOF_TEST_REDIS_URL', inject('redisUrl')],
] as const) {
  if (url && !process.env[variable]) process.env[variable] = url;
}

const test = { describe, it };
const crossProcess = (exportName: string): CrossProcessTarget => ({
  module: fileURLToPath(new URL('./idempotency-stores.ts', import.meta.url)),
  exportName,
  execArgv: ['--import', 'tsx'],
});

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
