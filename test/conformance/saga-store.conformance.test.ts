import { afterAll, describe, it } from 'vitest';
import { describeSagaStoreConformance } from '../../src/testing/index.js';
import { exposeServiceUrlsToChildProcesses } from '../support/services.js';
import { closeSharedClients, crossProcessTarget } from './backends.js';
import {
  memorySagaStoreTarget,
  pgliteSagaStoreTarget,
  postgresSagaStoreTarget,
  sqliteSagaStoreTarget,
} from './saga-stores.js';

// Child processes read the server addresses from the environment.
exposeServiceUrlsToChildProcesses();

const test = { describe, it };
const crossProcess = (exportName: string) =>
  crossProcessTarget(new URL('./saga-stores.ts', import.meta.url), exportName);

describeSagaStoreConformance({ ...memorySagaStoreTarget, test });
describeSagaStoreConformance({
  ...sqliteSagaStoreTarget,
  test,
  crossProcess: crossProcess('sqliteSagaStoreTarget'),
});
describeSagaStoreConformance({ ...pgliteSagaStoreTarget, test });

if (process.env.FLOWPROOF_TEST_POSTGRES_URL) {
  describeSagaStoreConformance({
    ...postgresSagaStoreTarget,
    test,
    crossProcess: crossProcess('postgresSagaStoreTarget'),
  });
} else {
  describe.skip('SagaStore conformance: postgres (skipped: no PostgreSQL server)', () => {});
}

afterAll(closeSharedClients);
