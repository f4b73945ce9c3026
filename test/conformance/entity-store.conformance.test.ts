import { fileURLToPath } from 'node:url';
import { afterAll, describe, inject, it } from 'vitest';
import {
  type CrossProcessTarget,
  describeEntityStoreConformance,
} from '../../src/testing/index.js';
import { closeSharedClients } from './backends.js';
import {
  memoryEntityStoreTarget,
  pgliteEntityStoreTarget,
  postgresEntityStoreTarget,
  sqliteEntityStoreTarget,
} from './entity-stores.js';

// Child processes read the server address from the environment.
const postgresUrl = inject('postgresUrl');
if (postgresUrl && !process.env.FLOWPROOF_TEST_POSTGRES_URL) {
  process.env.FLOWPROOF_TEST_POSTGRES_URL = postgresUrl;
}

const test = { describe, it };
const crossProcess = (exportName: string): CrossProcessTarget => ({
  module: fileURLToPath(new URL('./entity-stores.ts', import.meta.url)),
  exportName,
  execArgv: ['--import', 'tsx'],
});

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
