/**
 * The saga definitions of a cycle's plans: each step calls the fake service (or writes a row in
 * its transaction) and reports the effect and undo events the kill points count.
 */
import {
  defineSaga,
  NonRetryableError,
  type SagaDefinition,
  type SagaTransaction,
} from '../../../src/saga/index.js';
import { callService } from './fake-service.js';
import type { EventKind, SagaPlan, StepPlan } from './plan.js';

/** Where the steps go and what they report. */
export interface StepHooks {
  /** The fake service's base URL. */
  readonly serviceUrl: string;
  /** Called at each effect and undo event, before and after it. */
  event(kind: EventKind, when: 'before' | 'after', where: { saga: string; step: string }): void;
  /** The statement a transactional step runs: one row per committed effect. */
  readonly insertEffect: string;
}

/** Hooks for a process that only reads sagas (the parent): the steps never run there. */
export const READ_ONLY_HOOKS: StepHooks = {
  serviceUrl: 'http://127.0.0.1:9',
  event: () => {
    throw new Error('the parent runs no step');
  },
  insertEffect: '',
};

type StepOptions = Parameters<SagaDefinition['step']>[1];

/** A call to the service for a step's effect or undo, with its events around it. */
async function call(
  hooks: StepHooks,
  kind: 'effect' | 'undo',
  step: StepPlan,
  context: { sagaId: string; idempotencyKey: string; attempt: number; signal: AbortSignal },
  extra: { effectKey?: string; outcome?: string },
): Promise<unknown> {
  const where = { saga: context.sagaId, step: step.name };
  hooks.event(kind, 'before', where);
  const answer = await callService(
    hooks.serviceUrl,
    kind === 'effect' ? '/effect' : '/undo',
    {
      key: context.idempotencyKey,
      saga: context.sagaId,
      step: step.name,
      attempt: context.attempt,
      ...extra,
    },
    context.signal,
    (message) => new NonRetryableError(message),
  );
  hooks.event(kind, 'after', where);
  return answer;
}

function stepOptions(saga: SagaPlan, step: StepPlan, hooks: StepHooks): StepOptions {
  const where = { saga: saga.id, step: step.name };
  const common = {
    retry: { retries: step.retries, minTimeout: 2, maxTimeout: 10, randomize: false },
    compensationRetry: {
      retries: step.compensationRetries,
      minTimeout: 2,
      maxTimeout: 10,
      randomize: false,
    },
    onFailure: step.onFailure,
    ...(step.timeoutMs !== undefined ? { timeoutMs: step.timeoutMs } : {}),
    ...(step.compensate
      ? {
          compensate: (context: {
            sagaId: string;
            idempotencyKey: string;
            stepIdempotencyKey: string;
            outcome: string;
            attempt: number;
            signal: AbortSignal;
          }) =>
            call(hooks, 'undo', step, context, {
              effectKey: context.stepIdempotencyKey,
              outcome: context.outcome,
            }).then(() => {}),
        }
      : {}),
  };
  if (step.transactional) {
    return {
      ...common,
      transactional: true,
      run: async (context: {
        sagaId: string;
        idempotencyKey: string;
        transaction: SagaTransaction;
      }) => {
        hooks.event('effect', 'before', where);
        if (step.effect.mode === 'decline') throw new NonRetryableError('declined');
        await context.transaction.execute(hooks.insertEffect, [
          context.idempotencyKey,
          context.sagaId,
        ]);
        hooks.event('effect', 'after', where);
        return { row: context.idempotencyKey };
      },
    } as StepOptions;
  }
  return {
    ...common,
    run: (context: {
      sagaId: string;
      idempotencyKey: string;
      attempt: number;
      signal: AbortSignal;
    }) => call(hooks, 'effect', step, context, {}),
  } as StepOptions;
}

/** The definition of `saga`: named after its id, steps in its groups. */
export function sagaDefinition(saga: SagaPlan, hooks: StepHooks): SagaDefinition {
  let definition = defineSaga({ name: saga.id, version: 1 }) as unknown as SagaDefinition;
  const groups = new Map<number, StepPlan[]>();
  for (const step of saga.steps) groups.set(step.group, [...(groups.get(step.group) ?? []), step]);
  for (const group of groups.values()) {
    if (group.length === 1) {
      const [step] = group as [StepPlan];
      definition = definition.step(step.name, stepOptions(saga, step, hooks)) as never;
    } else {
      definition = definition.parallel((branches) => {
        // Step names are only known at run time here: the group's type is left open.
        let added = branches as unknown as { step(name: string, options: object): typeof added };
        for (const step of group) added = added.step(step.name, stepOptions(saga, step, hooks));
        return added as unknown as typeof branches;
      }) as never;
    }
  }
  return definition;
}
