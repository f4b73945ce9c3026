import { afterAll, describe, it } from 'vitest';
import { describeSagaStoreConformance } from '../../src/testing/index.js';
import { exposeServiceUrlsToChildProcesses } from '../support/services.js';
import { closeSharedClients } from './backends.js';
import { memorySagaStoreTarget } from './saga-stores.js';

// Child processes read the server addresses from the environment.
exposeServiceUrlsToChildProcesses();

const test = { describe, it };

describeSagaStoreConformance({ ...memorySagaStoreTarget, test });

afterAll(closeSharedClients);
