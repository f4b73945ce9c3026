/**
 * `saveInTransaction` of every saga store over a backend with transactions, written once.
 *
 * @internal
 */
import type { StorageBackend } from '../core/storage-backend.js';

/** Thrown inside the transaction to roll it back when the lease was lost. */
const LEASE_LOST = Symbol('lease lost');

/**
 * Runs `work` in a transaction of `backend`, then `save` (a fenced save on the transaction's
 * backend) in the same transaction. A save that finds the lease lost rolls `work` back too and
 * answers `{ saved: false }`; an error of `work` or `save` rolls back and is rethrown.
 */
export async function saveWithWork<B extends StorageBackend, T>(
  backend: B,
  work: (tx: B) => Promise<T>,
  save: (tx: B, value: T) => Promise<boolean>,
): Promise<{ readonly saved: boolean; readonly value?: T }> {
  try {
    return await backend.transaction(async (tx) => {
      const value = await work(tx);
      if (!(await save(tx, value))) throw LEASE_LOST;
      return { saved: true, value };
    });
  } catch (error) {
    if (error === LEASE_LOST) return { saved: false };
    throw error;
  }
}
