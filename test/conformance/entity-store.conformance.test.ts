import { afterAll, describe, it } from 'vitest';
import { describeEntityStoreConformance } from '../../src/testing/index.js';
import { exposeServiceUrlsToChildProcesses } from '../support/services.js';
import { closeSharedClients, crossProcessTarget } from './backends.js';
import {
  memoryEntityStoreTarget,
  pgliteEntityStoreTarget,
  postgresEntityStoreTarget,
  sqliteEntityStoreTarget,
} from './entity-stores.js';

// Child processes read the server addresses from the environment.
exposeServiceUrlsToChildProcesses();

const test = { describe, it };
const crossProcess = (exportName: string) =>
  crossProcessTarget(new URL('./entity-stores.ts', import.meta.url), exportName);

describeEntityStoreConformance({ ...memoryEntityStoreTarget, test });
describeEntityStoreConformance({
  ...sqliteEntityStoreTarget,
  test,
  crossProcess: crossProcess('sqliteEntityStoreTarget'),
});
describeEntityStoreConformance({ ...pgliteEntityStoreTarget, test });

if (process.env.FLOWPROOF_TEST_POSTGRES_URL) {
  describeEntityStoreConformance({
    ...postgresEntityStoreTarget,
    test,
    crossProcess: crossProcess('postgresEntityStoreTarget'),
  });
} else {
  describe.skip('EntityStore conformance: postgres (skipped: no PostgreSQL server)', () => {});
}

afterAll(closeSharedClients);
