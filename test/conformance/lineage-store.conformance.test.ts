import { afterAll, describe, it } from 'vitest';
import { describeLineageStoreConformance } from '../../src/testing/index.js';
import { exposeServiceUrlsToChildProcesses } from '../support/services.js';
import { closeSharedClients, crossProcessTarget } from './backends.js';
import {
  memoryLineageStoreTarget,
  pgliteLineageStoreTarget,
  postgresLineageStoreTarget,
  sqliteLineageStoreTarget,
} from './lineage-stores.js';

// Child processes read the server addresses from the environment.
exposeServiceUrlsToChildProcesses();

const test = { describe, it };
const crossProcess = (exportName: string) =>
  crossProcessTarget(new URL('./lineage-stores.ts', import.meta.url), exportName);

describeLineageStoreConformance({ ...memoryLineageStoreTarget, test });
describeLineageStoreConformance({
  ...sqliteLineageStoreTarget,
  test,
  crossProcess: crossProcess('sqliteLineageStoreTarget'),
});
describeLineageStoreConformance({ ...pgliteLineageStoreTarget, test });

if (process.env.FLOWPROOF_TEST_POSTGRES_URL) {
  describeLineageStoreConformance({
    ...postgresLineageStoreTarget,
    test,
    crossProcess: crossProcess('postgresLineageStoreTarget'),
  });
} else {
  describe.skip('LineageStore conformance: postgres (skipped: no PostgreSQL server)', () => {});
}

afterAll(closeSharedClients);
