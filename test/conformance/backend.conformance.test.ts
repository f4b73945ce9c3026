import { afterAll, describe, it } from 'vitest';
import { describeBackendConformance } from '../../src/testing/index.js';
import { exposeServiceUrlsToChildProcesses } from '../support/services.js';
import {
  closeSharedClients,
  crossProcessTarget,
  memoryTarget,
  pgliteTarget,
  postgresTarget,
  redisTarget,
  sqliteTarget,
} from './backends.js';

// Child processes read the server addresses from the environment.
exposeServiceUrlsToChildProcesses();

const test = { describe, it };
const crossProcess = (exportName: string) =>
  crossProcessTarget(new URL('./backends.ts', import.meta.url), exportName);

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
