import { fileURLToPath } from 'node:url';
import { afterAll, describe, inject, it } from 'vitest';
import { type CrossProcessTarget, describeBackendConformance } from '../../src/testing/index.js';
import {
  closeSharedClients,
  memoryTarget,
  pgliteTarget,
  postgresTarget,
  redisTarget,
  sqliteTarget,
} from './backends.js';

// Child processes read the server addresses from the environment.
for (const [variable, url] of [
  ['FLOWPROOF_TEST_POSTGRES_URL', inject('postgresUrl')],
  ['FLOWPROOF_TEST_REDIS_URL', inject('redisUrl')],
] as const) {
  if (url && !process.env[variable]) process.env[variable] = url;
}

const test = { describe, it };
const crossProcess = (exportName: string): CrossProcessTarget => ({
  module: fileURLToPath(new URL('./backends.ts', import.meta.url)),
  exportName,
  execArgv: ['--import', 'tsx'],
});

describeBackendConformance({ ...memoryTarget, test });
describeBackendConformance({ ...sqliteTarget, test, crossProcess: crossProcess('sqliteTarget') });
describeBackendConformance({ ...pgliteTarget, test });

if (process.env.FLOWPROOF_TEST_POSTGRES_URL) {
  describeBackendConformance({
    ...postgresTarget,
    test,
    crossProcess: crossProcess('postgresTarget'),
  });
} else {
  describe.skip('StorageBackend conformance: postgres (skipped: no PostgreSQL server)', () => {});
}

if (process.env.FLOWPROOF_TEST_REDIS_URL) {
  describeBackendConformance({ ...redisTarget, test, crossProcess: crossProcess('redisTarget') });
} else {
  describe.skip('StorageBackend conformance: redis (skipped: no Redis server)', () => {});
}

afterAll(closeSharedClients);
