import { afterAll, describe, it } from 'vitest';
import { describeOutboxStoreConformance } from '../../src/testing/index.js';
import { exposeServiceUrlsToChildProcesses } from '../support/services.js';
import { closeSharedClients, crossProcessTarget } from './backends.js';
import {
  memoryOutboxStoreTarget,
  pgliteOutboxStoreTarget,
  postgresOutboxStoreTarget,
  sqliteOutboxStoreTarget,
} from './outbox-stores.js';

// Child processes read the server addresses from the environment.
exposeServiceUrlsToChildProcesses();

const test = { describe, it };
const crossProcess = (exportName: string) =>
  crossProcessTarget(new URL('./outbox-stores.ts', import.meta.url), exportName);

describeOutboxStoreConformance({ ...memoryOutboxStoreTarget, test });
describeOutboxStoreConformance({
  ...sqliteOutboxStoreTarget,
  test,
  crossProcess: crossProcess('sqliteOutboxStoreTarget'),
});
describeOutboxStoreConformance({ ...pgliteOutboxStoreTarget, test });

if (process.env.FLOWPROOF_TEST_POSTGRES_URL) {
  describeOutboxStoreConformance({
    ...postgresOutboxStoreTarget,
    test,
    crossProcess: crossProcess('postgresOutboxStoreTarget'),
  });
} else {
  describe.skip('OutboxStore conformance: postgres (skipped: no PostgreSQL server)', () => {});
}

afterAll(closeSharedClients);
