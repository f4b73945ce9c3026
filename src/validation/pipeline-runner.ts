/**
 * Runs a built pipeline's stages. Stages run synchronously until one returns a promise, and only
 * the rest of the run is asynchronous, so an all-synchronous pipeline allocates no promise of its
 * own. Spans, timing and hook events are only paid for when something consumes them.
 *
 * @internal
 */
import { randomUUID } from 'node:crypto';
import { getContext } from '../core/context.js';
import { type FlowproofError, isFlowproofError } from '../core/errors.js';
import { type Logger, logEvent, silentLogger } from '../core/logger.js';
import {
  normaliseResult,
  type SchemaValidation,
  type StandardSchemaIssue,
  type StandardSchemaV1,
  type ValidationIssue,
  validateWithSchema,
} from '../core/standard-schema.js';
import {
  isTracingEnabled,
  type SpanAttributes,
  type SpanHandle,
  withSpan,
} from '../core/tracing.js';
import { findLostFields, findUnknownKeys, isPlainObject } from './field-loss.js';
import {
  deadLetterFailedError,
  fieldLostError,
  messageOf,
  rejectedError,
  type StageIdentity,
  stageError,
} from './pipeline-errors.js';
import { flattenFields, toJsonSchema } from './schema-fields.js';
import {
  type Boundary,
  type DeadLetterSink,
  MADE_BY_PIPELINE,
  type ReviewFlag,
  type StageContext,
  type StageEvent,
  type StageFailure,
  type StageKind,
  type StageOptions,
  type StageOutcome,
  type UnknownKeysPolicy,
} from './stage.js';

/** A stage ready to run: options checked, defaults applied, per-run constants precomputed. */
export interface CompiledStage extends StageIdentity {
  readonly index: number;
  readonly kind: StageKind;
  readonly boundary: Boundary;
  readonly schema: StandardSchemaV1 | undefined;
  /** Runs the schema: one synchronous parse for zod, whether run() or runSync() calls it. */
  readonly validator: SchemaValidator | undefined;
  /**
   * What a validate stage does with keys of its input that its schema strips; undefined for
   * transforms, enrichments and `into` stages, which strip nothing.
   */
  readonly unknownKeys: UnknownKeysPolicy | undefined;
  /**
   * The field paths the schema declares (`items.*.sku`), worked out from its JSON Schema the
   * first time a field goes missing; null when it cannot describe itself.
   */
  readonly declared: { paths?: ReadonlySet<string> | null };
  /** Validate only this field of the value, in place. */
  readonly at: string | undefined;
  /** Write the schema's output into this field, keeping the value. */
  readonly into: string | undefined;
  readonly fn: ((value: unknown, context: StageContext) => unknown) | undefined;
  readonly policy: 'reject' | 'fallback' | 'dead-letter';
  readonly fallback: ((failure: StageFailure<unknown>) => unknown) | undefined;
  readonly checkFieldLoss: boolean;
  readonly drops: ReadonlySet<string>;
  readonly context: StageContext;
  readonly spanName: string;
  readonly spanAttributes: SpanAttributes;
  readonly options: StageOptions<unknown, unknown>;
}

/** The successful end of a run. */
export interface PipelineSuccess<Out> {
  /** True: the pipeline produced a value. */
  readonly ok: true;
  /** `valid` when every stage passed, `flagged` when a stage fell back (see `flags`). */
  readonly status: 'valid' | 'flagged';
  /** The pipeline's output. */
  readonly value: Out;
  /** Why the record needs review; empty when `status` is `valid`. */
  readonly flags: readonly ReviewFlag[];
}

/** A run that ended by handing the record to the dead-letter sink. */
export interface PipelineDeadLettered {
  /** False: there is no value. */
  readonly ok: false;
  /** Always `dead-lettered`. */
  readonly status: 'dead-lettered';
  /** The stage whose failure dead-lettered the record. */
  readonly stage: string;
  /** The failure. */
  readonly error: FlowproofError;
  /** Fallbacks taken by earlier stages. */
  readonly flags: readonly ReviewFlag[];
}

/**
 * A run that a stage with the `reject` policy ended: its schema found issues, its code threw, it
 * lost a field, or (with any policy) the dead-letter sink failed.
 */
export interface PipelineRejected {
  /** False: there is no value. */
  readonly ok: false;
  /** Always `rejected`. */
  readonly status: 'rejected';
  /** The stage that rejected the record. */
  readonly stage: string;
  /**
   * Why: `PIPELINE_REJECTED` (invalid input: answer 400), `PIPELINE_STAGE_FAILED`,
   * `PIPELINE_FIELD_LOST` or `PIPELINE_DEAD_LETTER_FAILED`.
   */
  readonly error: FlowproofError;
  /** Fallbacks taken by earlier stages. */
  readonly flags: readonly ReviewFlag[];
}

/**
 * What `run()` and `runSync()` return, and what a batch reports per item: every outcome of a
 * record, told apart by `status` (or `ok`). Only programmer mistakes (`TypeError`) and an abort
 * are thrown.
 */
export type PipelineResult<Out> = PipelineSuccess<Out> | PipelineRejected | PipelineDeadLettered;

/** Marks a record handed to the dead-letter sink. */
const DEAD: unique symbol = Symbol('dead-lettered');
const EMPTY_FLAGS: readonly ReviewFlag[] = Object.freeze([]);
const EMPTY_FIELDS: readonly string[] = Object.freeze([]);
const OUTCOME_ATTRIBUTE = 'flowproof.pipeline.outcome';
const noop = () => {};
const DONE: Promise<void> = Promise.resolve();

class RunState {
  outcome: StageOutcome = 'passed';
  /**
   * Whether the stage just run returned a promise made by the runner. Set where that promise is
   * made, so the runner never inspects a stage's output twice: a proxy that can be inspected once
   * may throw the second time.
   */
  pending = false;
  /** The output of a stage that finished asynchronously; see {@link handOff}. */
  output: unknown = undefined;
  flags: ReviewFlag[] | undefined = undefined;
  error: FlowproofError | undefined = undefined;
  /** The run's id for `onStage` events, made at the first one. */
  runId: string | undefined = undefined;
  /** The last stage's output and its fields: the next stage's input, whose keys are known. */
  lastOutput: unknown = undefined;
  lastFieldsOut: readonly string[] = EMPTY_FIELDS;
  constructor(
    readonly record: unknown,
    readonly signal: AbortSignal | undefined,
    readonly sync: boolean,
    readonly traced: boolean,
  ) {}
}

/**
 * True for promises and other thenables (a query builder, a Bluebird promise). Plain objects and
 * arrays, what stages return almost always, are answered without looking up a `then` they do not
 * have; an object literal with its own `then` method is therefore not treated as a thenable.
 * Throws what reading the value's prototype throws (a revoked proxy): callers that pass a value
 * from user code catch it and fail the stage, since whether to await it cannot be known.
 */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  if (value instanceof Promise) return true;
  if (typeof value !== 'object' || value === null) {
    return typeof value === 'function' && typeof (value as { then?: unknown }).then === 'function';
  }
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === Array.prototype || proto === null) return false;
  try {
    return typeof (value as { then?: unknown }).then === 'function';
  } catch {
    return false;
  }
}

/** Options of {@link PipelineRunner}, checked by the builder. */
export interface RunnerConfig {
  readonly name: string;
  readonly stages: readonly CompiledStage[];
  readonly logger: Logger;
  readonly onStage: ((event: StageEvent) => void) | undefined;
  readonly deadLetter: DeadLetterSink | undefined;
}

export class PipelineRunner {
  readonly name: string;
  readonly stages: readonly CompiledStage[];
  readonly #logger: Logger;
  /** The process warning about a throwing `onStage` hook is given once per pipeline. */
  #hookWarned = false;
  readonly #onStage: ((event: StageEvent) => void) | undefined;
  readonly #deadLetter: DeadLetterSink | undefined;
  readonly #observed: boolean;

  constructor(config: RunnerConfig) {
    this.name = config.name;
    this.stages = config.stages;
    this.#logger = config.logger;
    this.#onStage = config.onStage;
    this.#deadLetter = config.deadLetter;
    this.#observed = config.onStage !== undefined || config.logger !== silentLogger;
  }

  /**
   * Runs every stage on `input`. Returns synchronously when every stage did. A stage's failure is
   * a `rejected` result; only a TypeError (runSync meeting a promise) or an abort is thrown.
   */
  execute(
    input: unknown,
    signal: AbortSignal | undefined,
    sync: boolean,
  ): PipelineResult<unknown> | Promise<PipelineResult<unknown>> {
    return this.#from(0, input, new RunState(input, signal, sync, isTracingEnabled()));
  }

  #from(
    start: number,
    input: unknown,
    state: RunState,
  ): PipelineResult<unknown> | Promise<PipelineResult<unknown>> {
    const stages = this.stages;
    let value = input;
    for (let i = start; i < stages.length; i++) {
      const stage = stages[i] as CompiledStage;
      if (state.signal?.aborted) throw state.signal.reason;
      const started = this.#observed ? performance.now() : 0;
      let out: unknown;
      try {
        out = state.traced ? traced(stage, value, state) : attempt(stage, value, state);
      } catch (error) {
        if (this.#observed) this.#observe(stage, value, undefined, started, state, error);
        return rejected(error, state);
      }
      if (state.pending) {
        const stageInput = value;
        return (out as Promise<unknown>).then(
          () => this.#after(stage, stageInput, state.output, started, state),
          (error: unknown) => {
            if (this.#observed) this.#observe(stage, stageInput, undefined, started, state, error);
            return rejected(error, state);
          },
        );
      }
      if (this.#observed) this.#observe(stage, value, out, started, state, undefined);
      if (out === DEAD) return this.#deadLettered(stage, value, state);
      value = out;
    }
    return state.flags === undefined
      ? { ok: true, status: 'valid', value, flags: EMPTY_FLAGS }
      : { ok: true, status: 'flagged', value, flags: state.flags };
  }

  #after(
    stage: CompiledStage,
    input: unknown,
    out: unknown,
    started: number,
    state: RunState,
  ): PipelineResult<unknown> | Promise<PipelineResult<unknown>> {
    if (this.#observed) this.#observe(stage, input, out, started, state, undefined);
    if (out === DEAD) return this.#deadLettered(stage, input, state);
    return this.#from(stage.index + 1, out, state);
  }

  #deadLettered(
    stage: CompiledStage,
    value: unknown,
    state: RunState,
  ): PipelineResult<unknown> | Promise<PipelineResult<unknown>> {
    const error = state.error as FlowproofError;
    const result: PipelineDeadLettered = {
      ok: false,
      status: 'dead-lettered',
      stage: stage.name,
      error,
      flags: state.flags ?? EMPTY_FLAGS,
    };
    const sink = this.#deadLetter as DeadLetterSink;
    let pending: Promise<unknown> | undefined;
    try {
      const ack = sink({
        pipeline: this.name,
        stage: stage.name,
        boundary: stage.boundary,
        record: state.record,
        value,
        error,
      });
      if (isThenable(ack)) pending = Promise.resolve(ack);
    } catch (sinkError) {
      return rejected(deadLetterFailedError(stage, error, sinkError), state);
    }
    if (pending === undefined) return result;
    if (state.sync) {
      pending.then(noop, noop);
      throw notSynchronous(stage, 'the dead-letter sink returned a promise');
    }
    return pending.then(
      () => result,
      (sinkError: unknown) => rejected(deadLetterFailedError(stage, error, sinkError), state),
    );
  }

  #observe(
    stage: CompiledStage,
    input: unknown,
    output: unknown,
    started: number,
    state: RunState,
    thrown: unknown,
  ): void {
    if (thrown !== undefined && !isFlowproofError(thrown)) return;
    const durationMs = performance.now() - started;
    const outcome: StageOutcome = thrown === undefined ? state.outcome : 'rejected';
    const error =
      outcome === 'passed' ? undefined : ((thrown as FlowproofError | undefined) ?? state.error);
    if (this.#logger !== silentLogger) this.#log(stage, outcome, durationMs, error);
    const hook = this.#onStage;
    if (hook === undefined) return;
    const failed = outcome === 'rejected' || outcome === 'dead-lettered';
    try {
      // Inside the try: reading a hostile value's keys may throw, and that must stay the hook's.
      const fieldsIn =
        state.runId !== undefined && input === state.lastOutput
          ? state.lastFieldsOut
          : fieldNames(input);
      const fieldsOut = failed ? EMPTY_FIELDS : fieldNames(output);
      state.lastOutput = output;
      state.lastFieldsOut = fieldsOut;
      const changes = fieldChanges(
        input,
        output,
        fieldsIn,
        fieldsOut,
        failed,
        stage.kind === 'validate',
      );
      state.runId ??= randomUUID();
      const event: StageEvent & { readonly [MADE_BY_PIPELINE]: true } = {
        [MADE_BY_PIPELINE]: true,
        pipeline: this.name,
        stage: stage.name,
        index: stage.index,
        boundary: stage.boundary,
        kind: stage.kind,
        outcome,
        durationMs,
        fieldsIn,
        fieldsOut,
        fieldsChanged: changes.fieldsChanged,
        fieldsAdded: changes.fieldsAdded,
        fieldsDropped: changes.fieldsDropped,
        fieldsMasked: stage.options.masks ?? EMPTY_FIELDS,
        runId: state.runId,
        stageCount: this.stages.length,
        correlationId: getContext()?.correlationId,
        error,
      };
      hook(event);
    } catch (hookError) {
      // Observers must not change what happens to the record; the failure is still reported.
      const message = messageOf(hookError);
      const logged = logEvent(
        this.#logger,
        'error',
        { pipeline: this.name, stage: stage.name, error: message },
        'pipeline onStage hook threw',
      );
      if (!logged && !this.#hookWarned) {
        this.#hookWarned = true;
        process.emitWarning(`The onStage hook of pipeline "${this.name}" threw: ${message}`);
      }
    }
  }

  #log(
    stage: CompiledStage,
    outcome: StageOutcome,
    durationMs: number,
    error: FlowproofError | undefined,
  ): void {
    const fields: Record<string, unknown> = {
      pipeline: this.name,
      stage: stage.name,
      boundary: stage.boundary,
      kind: stage.kind,
      outcome,
      durationMs,
    };
    if (error) {
      fields.code = error.code;
      const issues = error.details.issues as { path: unknown; code: unknown }[] | undefined;
      // Paths and codes only: messages and values may echo personal data.
      if (issues) fields.issues = issues.map((issue) => ({ path: issue.path, code: issue.code }));
      if (error.details.fields) fields.fields = error.details.fields;
    }
    switch (outcome) {
      case 'passed':
        logEvent(this.#logger, 'debug', fields, 'pipeline stage passed');
        return;
      case 'fallback':
        logEvent(
          this.#logger,
          'warn',
          fields,
          'pipeline stage fell back; record flagged for review',
        );
        return;
      case 'dead-lettered':
        logEvent(this.#logger, 'warn', fields, 'pipeline stage dead-lettered the record');
        return;
      default:
        if (error?.code === 'PIPELINE_REJECTED') {
          logEvent(this.#logger, 'info', fields, 'pipeline stage rejected the record');
        } else {
          logEvent(this.#logger, 'error', fields, 'pipeline stage failed');
        }
    }
  }
}

/**
 * The result of a run a stage rejected. Stage failures are always FlowproofErrors; anything else
 * (a `TypeError` from runSync, an abort) is thrown on.
 */
function rejected(error: unknown, state: RunState): PipelineRejected {
  if (!isFlowproofError(error)) throw error;
  return {
    ok: false,
    status: 'rejected',
    stage: String(error.details.stage),
    error,
    flags: state.flags ?? EMPTY_FLAGS,
  };
}

function fieldOf(value: unknown, field: string): unknown {
  return typeof value === 'object' && value !== null && Object.hasOwn(value, field)
    ? (value as Record<string, unknown>)[field]
    : undefined;
}

/** The changed, added and dropped top-level fields of a stage, for its `onStage` event. */
function fieldChanges(
  input: unknown,
  output: unknown,
  fieldsIn: readonly string[],
  fieldsOut: readonly string[],
  failed: boolean,
  copiesObjects: boolean,
): Pick<StageEvent, 'fieldsChanged' | 'fieldsAdded' | 'fieldsDropped'> {
  if (failed)
    return { fieldsChanged: EMPTY_FIELDS, fieldsAdded: EMPTY_FIELDS, fieldsDropped: EMPTY_FIELDS };
  if (fieldsIn.length === 0 || fieldsOut.length === 0) {
    return { fieldsChanged: EMPTY_FIELDS, fieldsAdded: fieldsOut, fieldsDropped: fieldsIn };
  }
  const before = input as Record<string, unknown>;
  const after = output as Record<string, unknown>;
  // Most stages change few fields: the arrays are made only when there is something to list.
  let changed: string[] | undefined;
  let added: string[] | undefined;
  for (const field of fieldsOut) {
    if (!Object.hasOwn(before, field)) {
      if (added === undefined) added = [];
      added.push(field);
    } else {
      const was = before[field];
      const is = after[field];
      if (!Object.is(was, is) && !(copiesObjects && isObject(was) && isObject(is))) {
        if (changed === undefined) changed = [];
        changed.push(field);
      }
    }
  }
  let dropped: string[] | undefined;
  if (fieldsIn.length + (added?.length ?? 0) > fieldsOut.length) {
    dropped = fieldsIn.filter((field) => !Object.hasOwn(after, field));
  }
  return {
    fieldsChanged: changed ?? EMPTY_FIELDS,
    fieldsAdded: added ?? EMPTY_FIELDS,
    fieldsDropped: dropped ?? EMPTY_FIELDS,
  };
}

function isObject(value: unknown): boolean {
  return typeof value === 'object' && value !== null;
}

function fieldNames(value: unknown): readonly string[] {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? Object.keys(value)
    : EMPTY_FIELDS;
}

function notSynchronous(stage: CompiledStage, what: string): TypeError {
  return new TypeError(
    `runSync(): in pipeline "${stage.pipeline}", stage "${stage.name}": ${what}; use run() for asynchronous pipelines`,
  );
}

/**
 * Runs one stage: its schema or function, then the field-loss check, then its error policy.
 * Returns the output, {@link DEAD}, or a promise of either; throws when the policy is `reject`.
 */
function attempt(stage: CompiledStage, value: unknown, state: RunState): unknown {
  state.outcome = 'passed';
  state.pending = false;
  let raw: unknown;
  try {
    if (stage.validator) {
      raw = stage.validator(stage.at === undefined ? value : fieldOf(value, stage.at));
    } else {
      const context = state.signal ? { ...stage.context, signal: state.signal } : stage.context;
      raw = (stage.fn as (value: unknown, context: StageContext) => unknown)(value, context);
    }
  } catch (error) {
    return fail(stage, value, stageError(stage, error), state);
  }
  let pending: Promise<unknown> | undefined;
  try {
    if (isThenable(raw)) pending = Promise.resolve(raw);
  } catch (error) {
    // A revoked proxy, or one whose traps throw: whether to await it cannot be known.
    return fail(stage, value, stageError(stage, error, 'output check'), state);
  }
  if (pending === undefined) return complete(stage, value, raw, state);
  if (state.sync) {
    pending.then(noop, noop);
    throw notSynchronous(stage, 'the stage returned a promise');
  }
  state.pending = true;
  return pending.then(
    (resolved) => {
      state.pending = false;
      return handOff(state, complete(stage, value, resolved, state));
    },
    (error: unknown) => {
      state.pending = false;
      return handOff(state, fail(stage, value, stageError(stage, error), state));
    },
  );
}

/**
 * Ends a stage that finished asynchronously: its output is left in `state` and its promise
 * resolves to nothing. Resolving a promise with the output would read the output's `then`,
 * adopting a plain object with a `then` method (taken as a value everywhere else) and letting a
 * throwing getter or proxy trap reject the run with an unwrapped error. A promise the runner made
 * (an asynchronous fallback) is passed on: it hands its own output off.
 */
function handOff(state: RunState, out: unknown): unknown {
  if (state.pending) return out;
  state.output = out;
  return undefined;
}

/** zod's messages when a synchronous parse meets a promise (zod 4 and zod 3 word it alike). */
const ZOD_ASYNC_PARSE = /encountered.*synchronous parse|synchronous parse encountered/i;

/** Runs a schema on a value, synchronously when it can. */
export type SchemaValidator = (
  value: unknown,
) => SchemaValidation<unknown> | Promise<SchemaValidation<unknown>>;

type ZodSafeParse = (
  value: unknown,
) =>
  | { success: true; data: unknown }
  | { success: false; error: { issues: StandardSchemaIssue[] } };

/**
 * How a stage runs its schema. zod's `~standard.validate` catches whatever its synchronous parse
 * throws (a transform that throws, a getter in the input) and parses again asynchronously, so the
 * same value could fail under runSync and pass under run(), or the reverse, depending on what a
 * getter answers the second time. For zod, the stage calls `safeParse` instead: one synchronous
 * parse whose exception fails the stage in both; only a schema zod itself says is asynchronous is
 * parsed asynchronously (and refused by runSync). Other validators, and zod builds without a
 * `safeParse` method (zod/mini), go through Standard Schema.
 */
export function schemaValidator(schema: StandardSchemaV1): SchemaValidator {
  const safeParse = (schema as { readonly safeParse?: unknown }).safeParse;
  if (schema['~standard'].vendor !== 'zod' || typeof safeParse !== 'function') {
    return (value) => validateWithSchema(schema, value);
  }
  return (value) => {
    let parsed: ReturnType<ZodSafeParse>;
    try {
      parsed = (safeParse as ZodSafeParse).call(schema, value);
    } catch (error) {
      if (ZOD_ASYNC_PARSE.test(messageOf(error))) return validateWithSchema(schema, value);
      throw error;
    }
    return parsed.success
      ? { ok: true, value: parsed.data }
      : normaliseResult({ issues: parsed.error.issues });
  };
}

function complete(stage: CompiledStage, value: unknown, raw: unknown, state: RunState): unknown {
  let out = raw;
  if (stage.schema) {
    const result = raw as SchemaValidation<unknown>;
    if (!result.ok) {
      const issues =
        stage.at === undefined
          ? result.issues
          : result.issues.map((issue) => ({ ...issue, path: [stage.at as string, ...issue.path] }));
      return fail(stage, value, rejectedError(stage, issues), state);
    }
    out = result.value;
  }
  const field = stage.at ?? stage.into;
  let plain = true;
  let lost: string[] | undefined;
  let unrecognized: ValidationIssue[] | undefined;
  try {
    if (field !== undefined) {
      plain = isPlainObject(value);
      if (plain) {
        const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) };
        copy[field] = out;
        out = copy;
      }
    }
    if (plain && stage.checkFieldLoss) lost = findLostFields(value, out, stage.drops);
    if (lost && stage.unknownKeys !== undefined) {
      // A validate stage: keys its schema does not declare are the input's, not a lost field.
      const declared = declaredPaths(stage);
      const unknown = declared === null ? lost : lost.filter((path) => !declared.has(path));
      const missing = declared === null ? [] : lost.filter((path) => declared.has(path));
      lost = missing.length === 0 ? undefined : missing;
      if (lost === undefined && unknown.length > 0 && stage.unknownKeys === 'reject') {
        unrecognized = unknownKeyIssues(value, out, unknown);
      }
    }
  } catch (error) {
    // Only exotic input gets here: a getter or proxy trap that throws while the value is
    // inspected, copied or compared.
    return fail(stage, value, stageError(stage, error, 'field-loss check'), state);
  }
  if (!plain) {
    const issue = { path: [], code: 'invalid_type', message: `Expected an object with "${field}"` };
    return fail(stage, value, rejectedError(stage, [issue]), state);
  }
  if (lost) return fail(stage, value, fieldLostError(stage, lost), state);
  if (unrecognized) return fail(stage, value, rejectedError(stage, unrecognized), state);
  return out;
}

/** The field paths a validate stage's schema declares; null when it cannot describe itself. */
function declaredPaths(stage: CompiledStage): ReadonlySet<string> | null {
  if (stage.declared.paths !== undefined) return stage.declared.paths;
  const json = toJsonSchema(stage.schema);
  const prefix = stage.at === undefined ? '' : `${stage.at}.`;
  const paths =
    json === undefined
      ? null
      : new Set(
          flattenFields(json, MAX_FIELD_DEPTH).map(
            (field) => prefix + field.path.replaceAll('[]', '.*'),
          ),
        );
  if (paths !== null && stage.at !== undefined) paths.add(stage.at);
  stage.declared.paths = paths;
  return paths;
}

/** As deep as the field-loss check looks. */
const MAX_FIELD_DEPTH = 10;

/** One `unrecognized_keys` issue per key the schema stripped, at the key's own path. */
function unknownKeyIssues(
  input: unknown,
  output: unknown,
  paths: readonly string[],
): ValidationIssue[] {
  const found = findUnknownKeys(input, output, new Set(paths));
  // Elements a schema reordered cannot be paired by position: name the path with `*` instead.
  const located = found.length > 0 ? found : paths.map((path) => path.split('.'));
  return located.map((path) => ({
    path,
    code: 'unrecognized_keys',
    message: `Unrecognized key: "${String(path.at(-1))}"`,
  }));
}

function fail(
  stage: CompiledStage,
  value: unknown,
  error: FlowproofError,
  state: RunState,
): unknown {
  state.error = error;
  if (stage.policy === 'reject') {
    state.outcome = 'rejected';
    throw error;
  }
  if (stage.policy === 'dead-letter') {
    state.outcome = 'dead-lettered';
    return DEAD;
  }
  const fallbackFailed = (fallbackError: unknown) => {
    const wrapped = stageError(stage, fallbackError, 'fallback');
    state.outcome = 'rejected';
    state.error = wrapped;
    return wrapped;
  };
  let replacement: unknown;
  let pending: Promise<unknown> | undefined;
  try {
    replacement = (stage.fallback as (failure: StageFailure<unknown>) => unknown)({
      error,
      value,
      record: state.record,
    });
    if (isThenable(replacement)) pending = Promise.resolve(replacement);
  } catch (fallbackError) {
    throw fallbackFailed(fallbackError);
  }
  if (pending === undefined) return flag(stage, error, replacement, state);
  if (state.sync) {
    pending.then(noop, noop);
    throw notSynchronous(stage, 'the fallback returned a promise');
  }
  state.pending = true;
  return pending.then(
    (resolved) => {
      state.output = flag(stage, error, resolved, state);
    },
    (fallbackError: unknown) => {
      throw fallbackFailed(fallbackError);
    },
  );
}

function flag(
  stage: CompiledStage,
  error: FlowproofError,
  value: unknown,
  state: RunState,
): unknown {
  if (state.flags === undefined) state.flags = [];
  state.flags.push({ stage: stage.name, boundary: stage.boundary, error });
  state.outcome = 'fallback';
  state.error = error;
  return value;
}

/**
 * {@link attempt} inside a span. `withSpan` takes an async function, but calls it synchronously;
 * when the stage finishes synchronously its result is taken straight from the closure, so tracing
 * does not make a synchronous pipeline asynchronous (the span itself ends a microtask later).
 */
function traced(stage: CompiledStage, value: unknown, state: RunState): unknown {
  // A box, not locals: the callback below assigns it, which flow analysis cannot see.
  const box: { mode: 'pending' | 'returned' | 'threw'; result: unknown } = {
    mode: 'pending',
    result: undefined,
  };
  const promise = withSpan(stage.spanName, stage.spanAttributes, (span: SpanHandle) => {
    let out: unknown;
    try {
      out = attempt(stage, value, state);
    } catch (error) {
      box.mode = 'threw';
      box.result = error;
      if (isFlowproofError(error)) span.setAttribute(OUTCOME_ATTRIBUTE, 'rejected');
      return Promise.reject(error);
    }
    if (!state.pending) {
      box.mode = 'returned';
      box.result = out;
      span.setAttribute(OUTCOME_ATTRIBUTE, state.outcome);
      // Not the output: resolving a promise with it would read its `then` (see handOff).
      return DONE;
    }
    return (out as Promise<unknown>).then(
      () => {
        span.setAttribute(OUTCOME_ATTRIBUTE, state.outcome);
      },
      (error: unknown) => {
        span.setAttribute(OUTCOME_ATTRIBUTE, 'rejected');
        throw error;
      },
    );
  });
  if (box.mode === 'returned') return box.result;
  if (box.mode === 'threw') {
    promise.then(noop, noop);
    throw box.result;
  }
  state.pending = true;
  return promise;
}
