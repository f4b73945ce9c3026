/**
 * Unwraps the FlowproofError an operation fails with, so a test can assert on its `code` and
 * `details` directly. Anything else (no error, or an error of another class) fails the test:
 * `rejects.toMatchObject` would accept a plain object with the same fields.
 */
import { FlowproofError } from '../../src/core/errors.js';

/**
 * The FlowproofError `fn` throws.
 *
 * @throws the error `fn` threw when it is not a FlowproofError, or an Error when `fn` returned.
 */
export function syncFailure(fn: () => unknown): FlowproofError {
  try {
    fn();
  } catch (error) {
    if (error instanceof FlowproofError) return error;
    throw error;
  }
  throw new Error('expected a FlowproofError, but the call returned');
}

/**
 * The FlowproofError `promise` rejects with.
 *
 * @throws the rejection reason when it is not a FlowproofError, or an Error when `promise`
 * resolved.
 */
export async function failure(promise: Promise<unknown>): Promise<FlowproofError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof FlowproofError) return error;
    throw error;
  }
  throw new Error('expected a FlowproofError, but the promise resolved');
}
