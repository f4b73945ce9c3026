/**
 * What a fault-injection cycle runs, derived from one number (the cycle's seed) so that the
 * parent, which checks the outcome, and the child processes, which run the sagas, agree on it
 * without exchanging anything else: a batch of random saga shapes (1 to 20 steps, parallel
 * groups, compensations, failing and hanging calls, transactional steps) and where the child is
 * killed.
 */
import { seededRandom } from '../../../src/testing/seeded-random.js';

/** The persistence points a child can be killed at, `<kind>:<before|after>`. */
export const KILL_POINTS = [
  'intent-write:before',
  'intent-write:after',
  'effect:before',
  'effect:after',
  'result-write:before',
  'result-write:after',
  'compensation-write:before',
  'compensation-write:after',
  'undo:before',
  'undo:after',
] as const;

/** A persistence point: a kind of event and whether the kill lands just before or just after it. */
export type KillPoint = (typeof KILL_POINTS)[number];

/** The kinds of events a kill point names. */
export type EventKind = KillPoint extends `${infer K}:${string}` ? K : never;

/** Kill the process at the `n`-th event of `point` (counted in that process, from 1). */
export interface KillPlan {
  readonly point: KillPoint;
  readonly n: number;
}

/**
 * How the fake service answers a step's effect call:
 * - `ok`: commits on the first call;
 * - `flaky`: the first `failures` calls fail with 503 (nothing committed), then it commits;
 * - `down`: every call fails with 503;
 * - `decline`: every call is declined with 402 (a non-retryable failure, nothing committed);
 * - `hang-before` / `hang-after`: the first call never answers (before or after committing),
 *   the step's time limit aborts it; later calls answer.
 */
export interface EffectPlan {
  readonly mode: 'ok' | 'flaky' | 'down' | 'decline' | 'hang-before' | 'hang-after';
  readonly failures: number;
}

/** How the fake service answers a compensation's undo call (`flaky` and `down` as for effects). */
export interface UndoPlan {
  readonly mode: 'ok' | 'flaky' | 'down';
  readonly failures: number;
}

/** One step of a generated saga. */
export interface StepPlan {
  readonly name: string;
  readonly group: number;
  /** Its effect is a row written in the step log's transaction, not a call to the service. */
  readonly transactional: boolean;
  readonly retries: number;
  /** Set on steps whose first call hangs. */
  readonly timeoutMs?: number;
  readonly onFailure: 'compensate' | 'dead-letter';
  readonly effect: EffectPlan;
  readonly compensate: boolean;
  readonly compensationRetries: number;
  readonly undo: UndoPlan;
}

/** One generated saga: its definition's name is also its id. */
export interface SagaPlan {
  readonly id: string;
  readonly steps: readonly StepPlan[];
}

/** A cycle: the batch one child starts, where it is killed, and whether its resumer is killed too. */
export interface CyclePlan {
  readonly seed: number;
  readonly sagas: readonly SagaPlan[];
  readonly kill: KillPlan;
  /** When set, the first resuming child is killed here too, and a second one finishes the batch. */
  readonly repeatKill?: KillPlan;
}

/** Options of {@link cyclePlan}. */
export interface CycleOptions {
  /** Sagas started by the cycle's first child. */
  readonly batch: number;
  /** Whether some steps are transactional. */
  readonly transactional: boolean;
}

/**
 * Sagas of each batch built so that compensations (writes and undo calls) certainly happen: their
 * first step completes, a later one is declined, and no undo of theirs is down.
 */
export const COMPENSATING_SAGAS = 3;
/** Time limit of steps whose first call hangs. */
export const HANG_TIMEOUT_MS = 150;

const between = (random: () => number, min: number, max: number) =>
  min + Math.floor(random() * (max - min + 1));

/** The idempotency key of a step's effect (what the engine derives: `<name>/<id>/<step>`). */
export function effectKey(saga: SagaPlan, step: StepPlan): string {
  return `${saga.id}/${saga.id}/${step.name}`;
}

/** The idempotency key of a step's compensation. */
export function undoKey(saga: SagaPlan, step: StepPlan): string {
  return `${effectKey(saga, step)}/compensate`;
}

/**
 * The cycle of `seed`. Its kill point is `KILL_POINTS[seed % 10]`, so consecutive seeds go round
 * every point; the event number is drawn below a count the batch is sure to reach.
 */
export function cyclePlan(seed: number, options: CycleOptions): CyclePlan {
  const random = seededRandom(seed);
  const sagas = Array.from({ length: options.batch }, (_, index) =>
    sagaPlan(`fi_${seed}_${index}`, seededRandom(seed * 1009 + index + 1), {
      compensating: index < COMPENSATING_SAGAS,
      transactional: options.transactional,
    }),
  );
  const point = KILL_POINTS[seed % KILL_POINTS.length]!;
  const kind = point.slice(0, point.indexOf(':'));
  // Every saga writes its intent, calls or writes its first effect and records a result; only
  // the first few are sure to compensate.
  const sure =
    kind === 'compensation-write' || kind === 'undo'
      ? COMPENSATING_SAGAS
      : point === 'effect:after'
        ? Math.max(1, Math.ceil(options.batch / 3))
        : options.batch;
  const kill: KillPlan = { point, n: between(random, 1, sure) };
  const repeat = random() < 0.35;
  return {
    seed,
    sagas,
    kill,
    ...(repeat
      ? {
          repeatKill: {
            point: KILL_POINTS[between(random, 0, KILL_POINTS.length - 1)]!,
            n: between(random, 1, 3),
          },
        }
      : {}),
  };
}

const OK: EffectPlan = { mode: 'ok', failures: 0 };

function sagaPlan(
  id: string,
  random: () => number,
  options: { compensating: boolean; transactional: boolean },
): SagaPlan {
  const count = options.compensating ? between(random, 2, 20) : between(random, 1, 20);
  // Groups: mostly single steps, sometimes two or three in parallel. A compensating saga's first
  // step is alone, so its failing step comes after it.
  const groups: number[] = [];
  let group = 0;
  for (let i = 0; i < count; group += 1) {
    const size = i === 0 && options.compensating ? 1 : random() < 0.25 ? between(random, 2, 3) : 1;
    for (let k = 0; k < size && i < count; k += 1, i += 1) groups.push(group);
  }
  // A third of the sagas (and every compensating one) have a step that fails for good.
  const failing = options.compensating
    ? between(random, 1, count - 1)
    : random() < 0.35
      ? between(random, 0, count - 1)
      : -1;
  const steps = groups.map((g, index): StepPlan => {
    const transactional = options.transactional && random() < 0.12;
    // Some steps have no retry: a runner dying in their attempt fails them (outcome unknown).
    const retries = random() < 0.15 ? 0 : between(random, 1, 3);
    const fails = index === failing;
    let effect: EffectPlan = OK;
    if (fails) {
      effect = {
        mode: transactional || options.compensating || random() < 0.5 ? 'decline' : 'down',
        failures: 0,
      };
    } else if (!transactional) {
      const roll = random();
      // Within the retries: these steps complete unless a kill spends their budget.
      if (roll < 0.15 && retries > 0)
        effect = { mode: 'flaky', failures: between(random, 1, retries) };
      else if (roll < 0.22 && retries > 0) {
        effect = { mode: random() < 0.5 ? 'hang-before' : 'hang-after', failures: 0 };
      }
    }
    const compensate = (options.compensating && index === 0) || random() < 0.7;
    const compensationRetries = between(random, 1, 3);
    const undoRoll = random();
    const undo: UndoPlan =
      options.compensating && index === 0
        ? { mode: 'ok', failures: 0 }
        : undoRoll < 0.15
          ? { mode: 'flaky', failures: between(random, 1, compensationRetries) }
          : undoRoll < 0.2 && !options.compensating
            ? { mode: 'down', failures: 0 }
            : { mode: 'ok', failures: 0 };
    return {
      name: `s${index}`,
      group: g,
      transactional,
      retries,
      ...(effect.mode.startsWith('hang') ? { timeoutMs: HANG_TIMEOUT_MS } : {}),
      onFailure: fails && !options.compensating && random() < 0.25 ? 'dead-letter' : 'compensate',
      effect,
      compensate,
      compensationRetries,
      undo,
    };
  });
  return { id, steps };
}
