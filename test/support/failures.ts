/**
 * Unwraps the error an operation fails with, so a test can assert on its class, `code` and
 * `details` directly. `failure` insists on a FlowproofError (`rejects.toMatchObject` would accept
 * a plain object with the same fields); `rejection` takes any error.
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

/**
 * Whatever `promise` rejects with (a TypeError as well as a FlowproofError).
 *
 * @throws an Error when `promise` resolved.
 */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection, but the promise resolved');
}
