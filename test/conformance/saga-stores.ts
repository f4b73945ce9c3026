/**
 * The saga stores flowproof ships, as conformance targets over the backend targets in
 * `backends.ts`. Child processes import this module too (cross-process tests).
 */
import { createMemorySagaStore, type MemorySagaStore } from '../../src/adapters/memory/index.js';
import type { SagaStoreTarget } from '../../src/testing/index.js';
import { memoryTarget } from './backends.js';

export const memorySagaStoreTarget: SagaStoreTarget<MemorySagaStore> = {
  name: 'memory',
  factory: async (namespace) =>
    createMemorySagaStore({ backend: await memoryTarget.factory(namespace) }),
  bind: (store, backend) => store.withBackend(backend as MemorySagaStore['backend']),
  capabilities: { transactions: true },
};
