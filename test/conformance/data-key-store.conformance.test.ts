import { afterAll, describe, it } from 'vitest';
import { describeDataKeyStoreConformance } from '../../src/testing/index.js';
import { exposeServiceUrlsToChildProcesses } from '../support/services.js';
import { closeSharedClients } from './backends.js';
import { memoryDataKeyStoreTarget } from './data-key-stores.js';

// Child processes read the server addresses from the environment.
exposeServiceUrlsToChildProcesses();

const test = { describe, it };

describeDataKeyStoreConformance({ ...memoryDataKeyStoreTarget, test });

afterAll(closeSharedClients);
