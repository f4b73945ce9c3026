/**
 * The saga the chaos and multi-runner tests run: `reserve`, then `charge` and `notify` in
 * parallel, then `ship`. Every step and compensation calls the effect service with its
 * idempotency key. The input says how long each call takes, whether `charge` fails once (a retry,
 * released to any runner when the hold limit is 0) and whether `ship` is declined (the saga
 * compensates `notify`, `charge` and `reserve`).
 */
import { defineSaga, NonRetryableError } from '../../../src/saga/index.js';
import type { EffectRequest } from './effect-service.js';

/** The saga's input. */
export interface ChaosInput {
  readonly holdMs: number;
  readonly flaky?: boolean;
  readonly decline?: boolean;
}

/** Where this process's steps send their calls, and the runner id they give. */
const target = { url: '', runner: '' };

/** Sets where steps send their calls (each runner process, before it starts). */
export function configureEffects(url: string, runner: string): void {
  target.url = url;
  target.runner = runner;
}

/** Calls the effect service; a 503 is a retryable failure, a 422 a final one. */
async function callEffect(
  request: Omit<EffectRequest, 'runner'>,
  signal: AbortSignal,
): Promise<unknown> {
  const response = await fetch(target.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...request, runner: target.runner }),
    signal,
  });
  const body = (await response.json()) as { result: string };
  if (response.status === 422) throw new NonRetryableError(`${request.key} declined`);
  if (response.status !== 200) throw new Error(`${request.key}: service unavailable`);
  return body.result;
}

const retry = { retries: 8, minTimeout: 20, maxTimeout: 200 } as const;

/** What a step's `run` and its `compensate` use of their context. */
interface EffectContext {
  readonly idempotencyKey: string;
  readonly input: unknown;
  readonly signal: AbortSignal;
}

function step(name: string) {
  return {
    run: ({ idempotencyKey, input, signal }: EffectContext) => {
      const i = input as ChaosInput;
      return callEffect(
        {
          key: idempotencyKey,
          holdMs: i.holdMs,
          ...(name === 'reserve' && i.flaky ? { failFirst: true } : {}),
          ...(name === 'ship' && i.decline ? { decline: true } : {}),
        },
        signal,
      );
    },
    compensate: ({ idempotencyKey, input, signal }: EffectContext) =>
      callEffect({ key: idempotencyKey, holdMs: (input as ChaosInput).holdMs }, signal),
    retry,
    compensationRetry: retry,
  };
}

/** The saga definition (name `chaos-order`). */
export const chaosSaga = defineSaga({ name: 'chaos-order', version: 1 })
  .step('reserve', step('reserve'))
  .parallel((group) => group.step('charge', step('charge')).step('notify', step('notify')))
  .step('ship', step('ship'));

/** The steps in definition order, for the checks. */
export const CHAOS_STEPS = ['reserve', 'charge', 'notify', 'ship'] as const;
