import { describe, expectTypeOf, it } from 'vitest';
import {
  FlowproofError,
  type FlowproofErrorCode,
  type FlowproofErrorDetails,
  type FlowproofErrorDetailsMap,
  isFlowproofError,
} from './errors.js';

describe('isFlowproofError narrows details to the code’s shape', () => {
  it('IDEMPOTENCY_IN_PROGRESS carries retryAfterMs', () => {
    const error: unknown = new FlowproofError('IDEMPOTENCY_IN_PROGRESS', 'busy');
    if (isFlowproofError(error, 'IDEMPOTENCY_IN_PROGRESS')) {
      expectTypeOf(error.code).toEqualTypeOf<'IDEMPOTENCY_IN_PROGRESS'>();
      expectTypeOf(error.details.retryAfterMs).toEqualTypeOf<number>();
      // @ts-expect-error not a field of this code's details
      error.details.retryAfterMs.toUpperCase();
    }
  });

  it('each code has its own shape', () => {
    const error: unknown = undefined;
    if (isFlowproofError(error, 'STATE_TRANSITION_DENIED')) {
      expectTypeOf(error.details.allowed).toEqualTypeOf<readonly string[]>();
    }
    if (isFlowproofError(error, 'VALIDATION_FAILED')) {
      expectTypeOf(error.details.issues[0]?.path).toEqualTypeOf<
        ReadonlyArray<string | number> | undefined
      >();
    }
    if (isFlowproofError(error, 'INVALID_CONTEXT')) {
      expectTypeOf(error.details.header).toEqualTypeOf<string>();
    }
    if (isFlowproofError(error, 'VERSION_CONFLICT')) {
      expectTypeOf(error.details.expectedVersion).toEqualTypeOf<number>();
    }
  });

  it('without a code, details stay an open record', () => {
    const error: unknown = undefined;
    if (isFlowproofError(error)) {
      expectTypeOf(error.details).toEqualTypeOf<Readonly<Record<string, unknown>>>();
    }
    expectTypeOf<FlowproofErrorDetails>().toEqualTypeOf<Readonly<Record<string, unknown>>>();
  });

  it('the map has an entry for every code and no other', () => {
    expectTypeOf<keyof FlowproofErrorDetailsMap>().toEqualTypeOf<FlowproofErrorCode>();
  });
});
