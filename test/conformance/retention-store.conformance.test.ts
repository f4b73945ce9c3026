import { afterAll, describe, it } from 'vitest';
import { describeRetentionStoreConformance } from '../../src/testing/index.js';
import { exposeServiceUrlsToChildProcesses } from '../support/services.js';
import { closeSharedClients, crossProcessTarget } from './backends.js';
import {
  memoryRetentionStoreTarget,
  pgliteRetentionStoreTarget,
  postgresRetentionStoreTarget,
  sqliteRetentionStoreTarget,
} from './retention-stores.js';

// Child processes read the server addresses from the environment.
exposeServiceUrlsToChildProcesses();

const test = { describe, it };
const crossProcess = (exportName: string) =>
  crossProcessTarget(new URL('./retention-stores.ts', import.meta.url), exportName);

describeRetentionStoreConformance({ ...memoryRetentionStoreTarget, test });
describeRetentionStoreConformance({
  ...sqliteRetentionStoreTarget,
  test,
  crossProcess: crossProcess('sqliteRetentionStoreTarget'),
});
describeRetentionStoreConformance({ ...pgliteRetentionStoreTarget, test });

if (process.env.FLOWPROOF_TEST_POSTGRES_URL) {
  describeRetentionStoreConformance({
    ...postgresRetentionStoreTarget,
    test,
    crossProcess: crossProcess('postgresRetentionStoreTarget'),
  });
} else {
  describe.skip('RetentionStore conformance: postgres (skipped: no PostgreSQL server)', () => {});
}

afterAll(closeSharedClients);
