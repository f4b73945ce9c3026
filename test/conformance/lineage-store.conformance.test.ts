import { afterAll, describe, it } from 'vitest';
import { describeLineageStoreConformance } from '../../src/testing/index.js';
import { closeSharedClients } from './backends.js';
import {
  memoryLineageStoreTarget,
  pgliteLineageStoreTarget,
  postgresLineageStoreTarget,
  sqliteLineageStoreTarget,
} from './lineage-stores.js';

const test = { describe, it };

describeLineageStoreConformance({ ...memoryLineageStoreTarget, test });
describeLineageStoreConformance({ ...sqliteLineageStoreTarget, test });
describeLineageStoreConformance({ ...pgliteLineageStoreTarget, test });

if (process.env.FLOWPROOF_TEST_POSTGRES_URL) {
  describeLineageStoreConformance({ ...postgresLineageStoreTarget, test });
} else {
  describe.skip('LineageStore conformance: postgres (skipped: no PostgreSQL server)', () => {});
}

afterAll(closeSharedClients);
