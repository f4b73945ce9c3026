import { afterAll, describe, it } from 'vitest';
import { describeTokenVaultStoreConformance } from '../../src/testing/index.js';
import { exposeServiceUrlsToChildProcesses } from '../support/services.js';
import { closeSharedClients, crossProcessTarget } from './backends.js';
import {
  memoryTokenVaultStoreTarget,
  pgliteTokenVaultStoreTarget,
  postgresTokenVaultStoreTarget,
  sqliteTokenVaultStoreTarget,
} from './token-vault-stores.js';

// Child processes read the server addresses from the environment.
exposeServiceUrlsToChildProcesses();

const test = { describe, it };
// Two processes are enough to race; more only add start-up time.
const crossProcess = (exportName: string) => ({
  ...crossProcessTarget(new URL('./token-vault-stores.ts', import.meta.url), exportName),
  processes: 2,
});

describeTokenVaultStoreConformance({ ...memoryTokenVaultStoreTarget, test });
describeTokenVaultStoreConformance({
  ...sqliteTokenVaultStoreTarget,
  test,
  crossProcess: crossProcess('sqliteTokenVaultStoreTarget'),
});
describeTokenVaultStoreConformance({ ...pgliteTokenVaultStoreTarget, test });

if (process.env.FLOWPROOF_TEST_POSTGRES_URL) {
  describeTokenVaultStoreConformance({
    ...postgresTokenVaultStoreTarget,
    test,
    crossProcess: crossProcess('postgresTokenVaultStoreTarget'),
  });
} else {
  describe.skip('TokenVaultStore conformance: postgres (skipped: no PostgreSQL server)', () => {});
}

afterAll(closeSharedClients);
