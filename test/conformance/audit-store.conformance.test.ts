import { afterAll, describe, it } from 'vitest';
import { describeAuditStoreConformance } from '../../src/testing/index.js';
import { exposeServiceUrlsToChildProcesses } from '../support/services.js';
import {
  memoryAuditStoreTarget,
  pgliteAuditStoreTarget,
  pglitePartitionedAuditStoreTarget,
  postgresAuditStoreTarget,
  sqliteAuditStoreTarget,
} from './audit-stores.js';
import { closeSharedClients, crossProcessTarget } from './backends.js';

// Child processes read the server addresses from the environment.
exposeServiceUrlsToChildProcesses();

const test = { describe, it };
const crossProcess = (exportName: string) =>
  crossProcessTarget(new URL('./audit-stores.ts', import.meta.url), exportName);

describeAuditStoreConformance({ ...memoryAuditStoreTarget, test });
describeAuditStoreConformance({
  ...sqliteAuditStoreTarget,
  test,
  crossProcess: crossProcess('sqliteAuditStoreTarget'),
});
describeAuditStoreConformance({ ...pgliteAuditStoreTarget, test });
describeAuditStoreConformance({ ...pglitePartitionedAuditStoreTarget, test });

if (process.env.FLOWPROOF_TEST_POSTGRES_URL) {
  describeAuditStoreConformance({
    ...postgresAuditStoreTarget,
    test,
    crossProcess: crossProcess('postgresAuditStoreTarget'),
  });
} else {
  describe.skip('AuditStore conformance: postgres (skipped: no PostgreSQL server)', () => {});
}

afterAll(closeSharedClients);
