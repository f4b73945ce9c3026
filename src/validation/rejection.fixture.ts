/**
 * Unwraps the error of a run a stage rejected, so a test can assert on its `code` and `details`.
 * Anything else (a value, a dead-lettered record, a thrown error) fails the test.
 */
import { FlowproofError } from '../core/errors.js';

function errorOf(result: unknown): FlowproofError {
  const outcome = result as { status?: unknown; error?: unknown; stage?: unknown };
  if (outcome?.status !== 'rejected') {
    throw new Error(`expected a rejected result, got ${JSON.stringify(outcome?.status)}`);
  }
  if (!(outcome.error instanceof FlowproofError)) throw new Error('a rejection without its error');
  if (outcome.stage !== outcome.error.details.stage) throw new Error('the stage is not named');
  return outcome.error;
}

/** The error of the rejected result `fn` returns (runSync). */
export function syncRejection(fn: () => unknown): FlowproofError {
  return errorOf(fn());
}

/** The error of the rejected result `promise` resolves to (run). */
export async function rejection(promise: Promise<unknown>): Promise<FlowproofError> {
  return errorOf(await promise);
}
