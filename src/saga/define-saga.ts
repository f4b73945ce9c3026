/**
 * `defineSaga`: a saga's name, version and ordered steps, built one step (or one parallel group)
 * at a time so that each step's context is typed with the outputs of the steps before it.
 * Definitions are plain immutable data plus the step functions; running them is `createSagas`'s
 * job.
 */
import { createHash } from 'node:crypto';
import { MAX_TIMER_MS } from '../core/async.js';
import {
  assertFunction,
  assertInteger,
  assertKnownKeys,
  assertOptionsObject,
} from '../core/options.js';
import { assertRetryPolicy, type RetryPolicy as SagaRetryPolicy } from '../core/retry-policy.js';
import {
  assertStandardSchema,
  type InferSchemaOutput,
  type StandardSchemaV1,
} from '../core/standard-schema.js';
import type { Jsonify } from '../idempotency/json-result.js';

/** What a step did, as its compensation is told. */
export type StepOutcome =
  /** The step completed; its output is given. */
  | 'completed'
  /** Every attempt threw (its effect may still have partly happened: a network error after the charge). */
  | 'failed'
  /** An attempt started and its outcome was never recorded (a crash or a timeout): the effect may have happened. */
  | 'unknown';

/** What every step function receives. */
export interface SagaStepContext<Input, Steps> {
  /** The saga's id. */
  readonly sagaId: string;
  /** The saga's input, as validated by the definition's `input` schema. */
  readonly input: Input;
  /** The outputs of the steps before this one, by step name (as stored: JSON data). */
  readonly steps: Steps;
  /**
   * A key to hand to the external service (a payment provider's `Idempotency-Key`): derived from
   * the saga's name, its id and the step, the same on every attempt, after a crash and after a
   * redrive, so the service applies the effect at most once.
   */
  readonly idempotencyKey: string;
  /** 1 for the first attempt, counted across crashes and redrives. */
  readonly attempt: number;
  /** Aborted when the step times out, the saga times out, or the runner loses the saga. */
  readonly signal: AbortSignal;
  /**
   * Transactional steps only (`transactional: true`): the transaction that also records the
   * step's result. Reading it in another step throws a `TypeError`.
   */
  readonly transaction: SagaTransaction;
}

/** The transaction a transactional step writes through: the step log is recorded in it too. */
export interface SagaTransaction {
  /** Runs one statement and returns its rows. */
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<R[]>;
  /** Runs one statement and returns the number of rows it changed. */
  execute(sql: string, params?: readonly unknown[]): Promise<number>;
}

/** What a compensation receives. */
export interface SagaCompensationContext<Input, Steps, Output> {
  /** The saga's id. */
  readonly sagaId: string;
  /** The saga's input. */
  readonly input: Input;
  /** The outputs of the steps that completed, by step name (later steps may be missing). */
  readonly steps: Partial<Steps>;
  /** What the step did: `completed` (with `output`), `failed` or `unknown`. */
  readonly outcome: StepOutcome;
  /** The step's output when it completed. */
  readonly output: Output | undefined;
  /** The key the step's effect was made with (what a refund often needs). */
  readonly stepIdempotencyKey: string;
  /** A key of the compensation's own, stable like the step's. */
  readonly idempotencyKey: string;
  /** 1 for the first attempt of this compensation. */
  readonly attempt: number;
  /** Aborted when the compensation times out or the runner loses the saga. */
  readonly signal: AbortSignal;
}

/** What happens when a step fails for good (its retries are spent or its error is not retryable). */
export type StepFailurePolicy =
  /** Compensate every started step, in reverse start order; the saga ends `compensated`. */
  | 'compensate'
  /**
   * Stop without compensating: the saga ends `failed` in the dead-letter queue, to be redriven
   * from this step (steps past the point of no return, which must eventually succeed).
   */
  | 'dead-letter';

/**
 * A step: its effect (`run`), how to undo it, how to retry it. Each step sees the saga's input and
 * the outputs of the steps before it.
 */
export interface SagaStepOptions<Input, Steps, Output> {
  /** The step's effect. Receives the saga's input, the outputs before it and its idempotency key. */
  readonly run: (context: SagaStepContext<Input, Steps>) => Output | Promise<Output>;
  /**
   * For a step whose only effect is a database write: `run` writes through
   * `context.transaction`, the same transaction that records its result, so it takes effect
   * exactly once (SQLite and PostgreSQL stores). @default false
   */
  readonly transactional?: boolean;
  /**
   * Undoes the step. Runs when a later step (or this one) fails for good; must be idempotent (use
   * `idempotencyKey`). A step without one is skipped during compensation.
   */
  readonly compensate?: (
    context: SagaCompensationContext<Input, Steps, Jsonify<Output>>,
  ) => unknown | Promise<unknown>;
  /** Retries of `run` (default: 3 retries, 1 s doubling to 60 s, with jitter). */
  readonly retry?: SagaRetryPolicy;
  /** Retries of `compensate` (default: 10 retries, 1 s doubling to 60 s, with jitter). */
  readonly compensationRetry?: SagaRetryPolicy;
  /** An attempt running longer than this is aborted and its outcome is `unknown`. */
  readonly timeoutMs?: number;
  /** Validates (and may transform) the output before it is recorded. */
  readonly output?: StandardSchemaV1<unknown, Output>;
  /** @default 'compensate' */
  readonly onFailure?: StepFailurePolicy;
  /**
   * Bump when the step's meaning changes (it now does something else): in-flight sagas past it
   * then stop with `SAGA_DEFINITION_MISMATCH` instead of resuming. Edits to the body (a bug fix)
   * do not need a bump. @default 1
   */
  readonly version?: number;
}

/** One step as the runtime sees it. */
export interface SagaStepDefinition {
  /** Its name, unique in the saga. */
  readonly name: string;
  /** Its position among all steps (parallel branches count one each), from 0. */
  readonly index: number;
  /** The group it starts with: steps of one group run in parallel. */
  readonly group: number;
  /** A hash of what identifies it (name, position, group, version): compared after deploys. */
  readonly hash: string;
  /** The options given. */
  readonly options: SagaStepOptions<unknown, Record<string, unknown>, unknown>;
}

/** Options of {@link defineSaga}. */
export interface DefineSagaOptions<S extends StandardSchemaV1 | undefined> {
  /** The saga's name: what `start` records and runners look definitions up by. */
  readonly name: string;
  /** The definition's version (a positive integer). Several versions may be registered. @default 1 */
  readonly version?: number;
  /** Validates the input at `start`; a saga without one takes any JSON input. */
  readonly input?: S;
  /** The whole saga's time limit from its start; past it the saga compensates. */
  readonly timeoutMs?: number;
}

/** Outputs record of a saga before any step. */
// biome-ignore lint/complexity/noBannedTypes: the empty record that steps' outputs are added to.
export type NoSteps = {};

/**
 * A saga definition. Immutable: `step` and `parallel` return a new definition with the step
 * added.
 */
export interface SagaDefinition<Input = unknown, Steps = NoSteps> {
  /** The name. */
  readonly name: string;
  /** The version. */
  readonly version: number;
  /** The input schema, if any. */
  readonly input: StandardSchemaV1 | undefined;
  /** The whole saga's time limit, if any. */
  readonly timeoutMs: number | undefined;
  /** Every step in order, parallel branches in the order given. */
  readonly steps: readonly SagaStepDefinition[];
  /** Appends a step; its context sees the outputs of every step before it. */
  step<const N extends string, O>(
    name: N extends keyof Steps ? never : N,
    options: SagaStepOptions<Input, Steps, O>,
  ): SagaDefinition<Input, Steps & { readonly [K in N]: Jsonify<O> }>;
  /**
   * Appends steps that run at the same time, added with `group.step()`; each sees the outputs of
   * the steps before the group (not its siblings').
   *
   * @example
   * ```ts
   * saga.parallel((group) => group.step('reserveInventory', { run: reserve }).step('bookCourier', { run: book }))
   * ```
   */
  parallel<Added>(
    branches: (group: ParallelGroup<Input, Steps>) => ParallelGroup<Input, Steps, Added>,
  ): SagaDefinition<Input, Steps & Added>;
  /** The saga as a Mermaid flowchart: steps in order, parallel groups side by side, compensations dashed. */
  toMermaid(): string;
  /** @internal Phantom: the outputs' type. */
  readonly __steps?: Steps;
}

/** The steps of a parallel group, added one by one like a saga's. */
export interface ParallelGroup<Input, Steps, Added = NoSteps> {
  /** Adds a step to the group; it sees the outputs of the steps before the group. */
  step<const N extends string, O>(
    name: N extends keyof Steps | keyof Added ? never : N,
    options: SagaStepOptions<Input, Steps, O>,
  ): ParallelGroup<Input, Steps, Added & { readonly [K in N]: Jsonify<O> }>;
  /** @internal The steps added, in order. */
  readonly __branches: readonly (readonly [string, unknown])[];
}

/** The input type of a saga definition. */
export type SagaInput<D> = D extends SagaDefinition<infer I, unknown> ? I : never;
/** The outputs (by step name) of a saga definition. */
export type SagaOutputs<D> = D extends SagaDefinition<unknown, infer S> ? S : never;

const SAGA_OPTION_KEYS = ['name', 'version', 'input', 'timeoutMs'] as const;
const STEP_OPTION_KEYS = [
  'run',
  'compensate',
  'retry',
  'compensationRetry',
  'timeoutMs',
  'output',
  'onFailure',
  'version',
  'transactional',
] as const;
/** Names that would collide with what every object has, in the outputs record. */
const RESERVED_NAMES = new Set([
  '__proto__',
  'constructor',
  'prototype',
  'hasOwnProperty',
  'toString',
  'valueOf',
]);
/** Names stay short and plain: they appear in keys, logs, diagrams and SQL rows. */
const NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;

/**
 * Defines a saga: a name, a version, and steps added with `.step()` and `.parallel()`.
 *
 * @throws TypeError naming the option when an option is invalid.
 * @example
 * ```ts
 * const order = defineSaga({ name: 'order', version: 1, input: z.object({ sku: z.string() }) })
 *   .step('createOrder', { run: ({ input }) => orders.create(input), compensate: ({ output }) => orders.cancel(output!.id) })
 *   .step('chargePayment', { run: ({ idempotencyKey }) => payments.charge(idempotencyKey) });
 * ```
 */
export function defineSaga<S extends StandardSchemaV1 | undefined = undefined>(
  options: DefineSagaOptions<S>,
): SagaDefinition<S extends StandardSchemaV1 ? InferSchemaOutput<S> : unknown> {
  assertOptionsObject(options, 'options');
  assertKnownKeys(options, SAGA_OPTION_KEYS, 'options');
  assertName(options.name, 'options.name');
  const version = options.version ?? 1;
  assertInteger(version, 'options.version', 1);
  if (options.input !== undefined) assertStandardSchema(options.input, 'options.input');
  if (options.timeoutMs !== undefined)
    assertInteger(options.timeoutMs, 'options.timeoutMs', 1, MAX_TIMER_MS);
  return build(options.name, version, options.input, options.timeoutMs, []) as never;
}

function build(
  name: string,
  version: number,
  input: StandardSchemaV1 | undefined,
  timeoutMs: number | undefined,
  steps: readonly SagaStepDefinition[],
): SagaDefinition<unknown, Record<string, unknown>> {
  const nextGroup = steps.length === 0 ? 0 : steps[steps.length - 1]!.group + 1;
  const add = (entries: readonly (readonly [string, unknown])[], label: string) => {
    const added = entries.map(([stepName, stepOptions], offset) => {
      assertName(stepName, label === 'step' ? 'name' : `branch name ${JSON.stringify(stepName)}`);
      if (steps.some((s) => s.name === stepName)) {
        throw new TypeError(
          `step ${JSON.stringify(stepName)} is already defined in saga ${JSON.stringify(name)}`,
        );
      }
      const checked = assertStepOptions(stepOptions, 'options');
      const index = steps.length + offset;
      return Object.freeze({
        name: stepName,
        index,
        group: nextGroup,
        hash: stepHash(stepName, index, nextGroup, checked.version ?? 1),
        options: checked,
      });
    });
    return build(name, version, input, timeoutMs, Object.freeze([...steps, ...added]));
  };
  return Object.freeze({
    name,
    version,
    input,
    timeoutMs,
    steps,
    step: (stepName: string, stepOptions: unknown) => add([[stepName, stepOptions]], 'step'),
    parallel: (
      branches: (group: ParallelGroup<unknown, unknown>) => ParallelGroup<unknown, unknown>,
    ) => {
      assertFunction(branches, 'branches');
      const group = branches(parallelGroup([]));
      const entries = (group as { __branches?: unknown } | undefined)?.__branches;
      if (!Array.isArray(entries)) {
        throw new TypeError('branches must return the group it was given, with its steps added');
      }
      if (entries.length === 0) throw new TypeError('branches must add at least one step');
      return add(entries, 'parallel');
    },
    toMermaid: () => sagaToMermaid(name, version, steps),
  }) as never;
}

function parallelGroup(
  branches: readonly (readonly [string, unknown])[],
): ParallelGroup<unknown, unknown> {
  return Object.freeze({
    __branches: branches,
    step: (name: string, options: unknown) => {
      if (branches.some(([existing]) => existing === name)) {
        throw new TypeError(`step ${JSON.stringify(name)} is already in this parallel group`);
      }
      return parallelGroup(Object.freeze([...branches, [name, options] as const]));
    },
  }) as never;
}

function assertName(value: unknown, name: string): asserts value is string {
  if (typeof value !== 'string' || !NAME_PATTERN.test(value) || RESERVED_NAMES.has(value)) {
    throw new TypeError(
      `${name} must be 1 to 64 letters, digits, '_', '.' or '-' starting with a letter or '_', and not a name every object has (__proto__, constructor…), got ${JSON.stringify(value)}`,
    );
  }
}

function assertStepOptions(
  value: unknown,
  name: string,
): SagaStepOptions<unknown, Record<string, unknown>, unknown> {
  assertOptionsObject(value, name);
  assertKnownKeys(value, STEP_OPTION_KEYS, name);
  const options = value as unknown as SagaStepOptions<unknown, Record<string, unknown>, unknown>;
  assertFunction(options.run, `${name}.run`);
  if (options.compensate !== undefined) assertFunction(options.compensate, `${name}.compensate`);
  if (options.retry !== undefined) assertRetryPolicy(options.retry, `${name}.retry`);
  if (options.compensationRetry !== undefined) {
    assertRetryPolicy(options.compensationRetry, `${name}.compensationRetry`);
  }
  if (options.timeoutMs !== undefined)
    assertInteger(options.timeoutMs, `${name}.timeoutMs`, 1, MAX_TIMER_MS);
  if (options.output !== undefined) assertStandardSchema(options.output, `${name}.output`);
  if (
    options.onFailure !== undefined &&
    options.onFailure !== 'compensate' &&
    options.onFailure !== 'dead-letter'
  ) {
    throw new TypeError(`${name}.onFailure must be 'compensate' or 'dead-letter'`);
  }
  if (options.version !== undefined) assertInteger(options.version, `${name}.version`, 1);
  if (options.transactional !== undefined && typeof options.transactional !== 'boolean') {
    throw new TypeError(`${name}.transactional must be a boolean`);
  }
  return Object.freeze({ ...options });
}

/**
 * What a stored step is compared with after a deploy. The body of `run` is left out on purpose:
 * a bug fix must reach in-flight and dead-lettered sagas; a change of meaning bumps `version`.
 */
function stepHash(name: string, index: number, group: number, version: number): string {
  return createHash('sha256')
    .update(`${name}\u0000${index}\u0000${group}\u0000${version}`)
    .digest('base64url')
    .slice(0, 16);
}

function sagaToMermaid(
  name: string,
  version: number,
  steps: readonly SagaStepDefinition[],
): string {
  const lines = ['flowchart TD', `  %% saga ${name} v${version}`, '  start((start))'];
  const groups = groupSteps(steps);
  let previous = ['start'];
  for (const group of groups) {
    for (const step of group) {
      lines.push(`  s${step.index}["${step.name}"]`);
      for (const from of previous) lines.push(`  ${from} --> s${step.index}`);
      if (step.options.compensate) {
        lines.push(`  c${step.index}["undo ${step.name}"]`);
        lines.push(`  s${step.index} -. on failure .-> c${step.index}`);
      }
    }
    previous = group.map((step) => `s${step.index}`);
  }
  lines.push('  done((completed))');
  for (const from of previous) lines.push(`  ${from} --> done`);
  // Compensations run in reverse start order: draw that chain.
  const undo = steps.filter((step) => step.options.compensate).reverse();
  for (let i = 0; i + 1 < undo.length; i += 1) {
    lines.push(`  c${undo[i]!.index} -.-> c${undo[i + 1]!.index}`);
  }
  if (undo.length > 0)
    lines.push(`  c${undo[undo.length - 1]!.index} -.-> compensated((compensated))`);
  return `${lines.join('\n')}\n`;
}

/** The steps by group, in order: each inner array runs at once. */
export function groupSteps(steps: readonly SagaStepDefinition[]): SagaStepDefinition[][] {
  const groups: SagaStepDefinition[][] = [];
  for (const step of steps) {
    const group = groups[step.group];
    if (group) group.push(step);
    else groups[step.group] = [step];
  }
  return groups;
}
