/** What docs/errors.md's snippet assumes the application has: a store, and a way to retry later. */
import {
  createMemoryBackend,
  createMemoryIdempotencyStore,
} from '../../../src/adapters/memory/index.js';

/** Any module store; the snippet migrates it on startup. */
export const store = createMemoryIdempotencyStore({ backend: createMemoryBackend() });

/** The application's scheduler: here, it just records that a retry was asked for. */
export function retryLater(task: () => Promise<void>): void {
  void task;
}
