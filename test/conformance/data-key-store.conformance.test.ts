import { afterAll, describe, it } from 'vitest';
import { describeDataKeyStoreConformance } from '../../src/testing/index.js';
import { exposeServiceUrlsToChildProcesses } from '../support/services.js';
import { closeSharedClients, crossProcessTarget } from './backends.js';
import {
  memoryDataKeyStoreTarget,
  pgliteDataKeyStoreTarget,
  postgresDataKeyStoreTarget,
  sqliteDataKeyStoreTarget,
} from './data-key-stores.js';

// Child processes read the server addresses from the environment.
exposeServiceUrlsToChildProcesses();

const test = { describe, it };
// Two processes are enough to race; more only add start-up time.
const crossProcess = (exportName: string) => ({
  ...crossProcessTarget(new URL('./data-key-stores.ts', import.meta.url), exportName),
  processes: 2,
});

describeDataKeyStoreConformance({ ...memoryDataKeyStoreTarget, test });
describeDataKeyStoreConformance({
  ...sqliteDataKeyStoreTarget,
  test,
  crossProcess: crossProcess('sqliteDataKeyStoreTarget'),
});
describeDataKeyStoreConformance({ ...pgliteDataKeyStoreTarget, test });

if (process.env.FLOWPROOF_TEST_POSTGRES_URL) {
  describeDataKeyStoreConformance({
    ...postgresDataKeyStoreTarget,
    test,
    crossProcess: crossProcess('postgresDataKeyStoreTarget'),
  });
} else {
  describe.skip('DataKeyStore conformance: postgres (skipped: no PostgreSQL server)', () => {});
}

afterAll(closeSharedClients);
