/**
 * The data-key stores flowproof ships, as conformance targets over the backend targets in
 * `backends.ts`.
 */

import {
  createMemoryDataKeyStore,
  type MemoryDataKeyStore,
} from '../../src/adapters/memory/index.js';
import type { DataKeyStoreTarget } from '../../src/testing/index.js';
import { memoryTarget } from './backends.js';

export const memoryDataKeyStoreTarget: DataKeyStoreTarget<MemoryDataKeyStore> = {
  name: 'memory',
  factory: async (namespace) =>
    createMemoryDataKeyStore({ backend: await memoryTarget.factory(namespace) }),
  bind: (store, backend) => store.withBackend(backend as MemoryDataKeyStore['backend']),
  capabilities: { transactions: true },
};
