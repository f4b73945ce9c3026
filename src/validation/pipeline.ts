/**
 * The pipeline builder: named validate / transform / enrich stages, each at a trust boundary, with
 * its own error policy and field-loss rules. Input and output types flow through the stages at
 * compile time.
 */
import { assertLogger, type Logger, silentLogger } from '../core/logger.js';
import {
  assertFunction,
  assertKnownKeys,
  assertNonEmptyString,
  assertOptionsObject,
  assertSignal,
} from '../core/options.js';
import {
  assertStandardSchema,
  type InferSchemaOutput,
  type StandardSchemaV1,
} from '../core/standard-schema.js';
import {
  describePipeline,
  type PipelineDescription,
  pipelineToMarkdown,
  pipelineToMermaid,
} from './describe-pipeline.js';
import {
  type CompiledStage,
  isThenable,
  type PipelineResult,
  PipelineRunner,
  schemaValidator,
} from './pipeline-runner.js';
import {
  BATCH_OPTIONS,
  type BatchOptions,
  type BatchOutcome,
  type BatchReport,
  type BatchReportOptions,
  checkBatchOptions,
  collectBatchReport,
  streamBatch,
} from './run-batch.js';
import { type JsonSchema, toJsonSchema } from './schema-fields.js';
import type {
  DeadLetterSink,
  StageContext,
  StageDocs,
  StageEvent,
  StageFailure,
  StageKind,
  StageOptions,
  UnknownKeysPolicy,
  ValidateAtOptions,
  ValidateIntoOptions,
  ValidateOptions,
  WithField,
} from './stage.js';

/** Options of {@link pipeline}. */
export interface PipelineOptions {
  /**
   * A pino-compatible logger. Each stage logs one line: `debug` when it passes, `warn` when it
   * falls back or dead-letters, `info` when it rejects a record, `error` when user code fails.
   * Lines carry the pipeline, stage, boundary, outcome, error code and issue paths, never values.
   * @default silentLogger
   */
  readonly logger?: Logger;
  /**
   * Called synchronously after every stage with what it did (for lineage and metrics). Keep it
   * fast; an exception it throws is logged (or emitted as a process warning) and does not change
   * the run's outcome.
   * @default undefined
   */
  readonly onStage?: (event: StageEvent) => void;
  /**
   * Receives records dead-lettered by stages whose policy is `'dead-letter'`. Required when a stage
   * uses that policy.
   * @default undefined
   */
  readonly deadLetter?: DeadLetterSink;
}

/** Options of {@link Pipeline.run}. */
export interface RunOptions {
  /**
   * Cancels the run between stages (the run rejects with the signal's reason); stage functions
   * get it as `context.signal` to cancel their own I/O.
   * @default undefined
   */
  readonly signal?: AbortSignal;
}

/**
 * A pipeline under construction. Each method returns a new builder, so a partial pipeline can be
 * shared and extended in several ways.
 *
 * @typeParam In - what the pipeline accepts.
 * @typeParam Out - what the stages so far produce.
 */
export interface PipelineBuilder<In, Out> {
  /**
   * Adds a stage that validates only field `at` of the value, in place, and passes the rest on as
   * it is; see {@link ValidateAtOptions}. Issue paths start with `at`.
   *
   * @throws TypeError like the other `validate` forms.
   */
  validate<S extends StandardSchemaV1, K extends keyof Out & string>(
    name: string,
    schema: S,
    options: ValidateAtOptions<Out, K, NoInfer<WithField<Out, K, InferSchemaOutput<S>>>>,
  ): PipelineBuilder<In, WithField<Out, K, InferSchemaOutput<S>>>;
  /**
   * Adds a stage that validates the value and writes the schema's output into field `into`,
   * passing the value itself on unchanged; see {@link ValidateIntoOptions}.
   *
   * @throws TypeError like the other `validate` forms.
   */
  validate<S extends StandardSchemaV1, K extends string>(
    name: string,
    schema: S,
    options: ValidateIntoOptions<Out, K, NoInfer<WithField<Out, K, InferSchemaOutput<S>>>>,
  ): PipelineBuilder<In, WithField<Out, K, InferSchemaOutput<S>>>;
  /**
   * Adds a stage that validates the value with any Standard Schema (zod, valibot, arktype…) and
   * continues with the schema's output. Issues fail the stage with `PIPELINE_REJECTED`, listing
   * each issue's path, code and message. Keys of the input the schema does not declare and strips
   * (a zod object drops unknown keys) are stripped silently or rejected, per `unknownKeys`; a
   * field the schema declares and still leaves out fails it with `PIPELINE_FIELD_LOST`.
   *
   * @throws TypeError when the name is empty or taken, the schema is not a Standard Schema, or an
   * option is invalid.
   */
  validate<S extends StandardSchemaV1>(
    name: string,
    schema: S,
    options?: ValidateOptions<Out, NoInfer<InferSchemaOutput<S>>>,
  ): PipelineBuilder<In, InferSchemaOutput<S>>;
  /**
   * Adds a stage that reshapes the value. `fn` should return a new value rather than mutate its
   * argument; it may return a promise or another thenable (a plain object with a `then` method is
   * taken as a value). An exception fails the stage with
   * `PIPELINE_STAGE_FAILED` (a thrown `VALIDATION_FAILED` with issues becomes
   * `PIPELINE_REJECTED`).
   *
   * @throws TypeError when the name is empty or taken, `fn` is not a function, or an option is
   * invalid.
   */
  transform<Next>(
    name: string,
    fn: (value: Out, context: StageContext) => Next,
    options?: StageOptions<Out, NoInfer<Awaited<Next>>>,
  ): PipelineBuilder<In, Awaited<Next>>;
  /**
   * Adds a stage that adds data from elsewhere (product details, a promo code's terms), usually
   * asynchronously. Behaves like {@link PipelineBuilder.transform}; the kind shows in the docs,
   * spans and hook events.
   *
   * @throws TypeError when the name is empty or taken, `fn` is not a function, or an option is
   * invalid.
   */
  enrich<Next>(
    name: string,
    fn: (value: Out, context: StageContext) => Next,
    options?: StageOptions<Out, NoInfer<Awaited<Next>>>,
  ): PipelineBuilder<In, Awaited<Next>>;
  /**
   * Freezes the stages into a runnable {@link Pipeline}.
   *
   * @throws TypeError when there are no stages, or a stage dead-letters and no `deadLetter` sink
   * was given.
   */
  build(): Pipeline<In, Out>;
}

/**
 * A built pipeline.
 *
 * @typeParam In - what it accepts.
 * @typeParam Out - what it produces.
 */
export interface Pipeline<In, Out> {
  /** The pipeline's name. */
  readonly name: string;
  /**
   * Runs the stages on `input`, which is never mutated. Synchronous stages run without awaiting;
   * the first asynchronous stage makes the rest asynchronous.
   *
   * @returns every outcome as a {@link PipelineResult}: `valid`, `flagged` (a stage fell back),
   * `dead-lettered`, or `rejected` with the stage's `FlowproofError` (`PIPELINE_REJECTED`,
   * `PIPELINE_STAGE_FAILED`, `PIPELINE_FIELD_LOST`, or `PIPELINE_DEAD_LETTER_FAILED` when the
   * dead-letter sink throws). A record's failure is never thrown.
   * @throws TypeError when an option is invalid. Rejects with `signal.reason` when aborted.
   */
  run(input: In, options?: RunOptions): Promise<PipelineResult<Out>>;
  /**
   * Runs an all-synchronous pipeline without any promise: the fastest path for CPU-only
   * validation and mapping.
   *
   * @returns the same {@link PipelineResult} as {@link Pipeline.run}.
   * @throws TypeError when a stage, a fallback or the dead-letter sink returns a promise.
   */
  runSync(input: In): PipelineResult<Out>;
  /**
   * Runs the pipeline over an iterable or async iterable with bounded concurrency, yielding each
   * item's outcome as it completes (`index` gives its position in the source). Items are pulled
   * from the source only as slots free up, and no more than `concurrency` outcomes are held, so
   * memory stays bounded whatever the source's length. Each outcome is what `run()` returns for
   * the item, with its `index` and `input`.
   *
   * @throws TypeError when an option is invalid; the signal's reason when aborted; whatever the
   * source throws.
   */
  stream(
    source: Iterable<In> | AsyncIterable<In>,
    options?: BatchOptions,
  ): AsyncIterableIterator<BatchOutcome<In, Out>>;
  /**
   * Runs the pipeline over a batch and returns counts per outcome, plus the outcomes that need
   * attention (or all of them, per `keep`).
   *
   * @throws TypeError when an option is invalid; the signal's reason when aborted; whatever the
   * source throws.
   */
  runBatch(
    source: Iterable<In> | AsyncIterable<In>,
    options?: BatchReportOptions,
  ): Promise<BatchReport<In, Out>>;
  /** The stages, boundaries, policies and field sets, as data. */
  describe(): PipelineDescription;
  /** A Mermaid flowchart of the stages, grouped by boundary, with failure paths. */
  toMermaid(): string;
  /**
   * Markdown documenting every stage in the reference's "Input / Transformation / Output /
   * Validation / Error handling" shape, with the Mermaid diagram.
   */
  toMarkdown(): string;
}

interface StageSpec {
  readonly kind: StageKind;
  readonly name: string;
  readonly boundary: string;
  readonly schema: StandardSchemaV1 | undefined;
  readonly fn: ((value: unknown, context: StageContext) => unknown) | undefined;
  readonly options: StageOptions<unknown, unknown>;
}

interface BuilderConfig {
  readonly name: string;
  readonly logger: Logger;
  readonly onStage: ((event: StageEvent) => void) | undefined;
  readonly deadLetter: DeadLetterSink | undefined;
}

/**
 * Starts a pipeline: a named chain of validate, transform and enrich stages, each tagged with the
 * trust boundary it sits at.
 *
 * @typeParam In - what the pipeline accepts; `unknown` (the default) suits a pipeline whose first
 * stage validates.
 * @throws TypeError when `name` is empty or an option is invalid.
 * @example
 * ```ts
 * const createOrder = pipeline('create-order')
 *   .validate('parse request', CreateOrderRequest, { boundary: 'gateway' })
 *   .transform('normalize', (req) => ({ ...req, items: req.items.map(upperCaseSku) }), {
 *     boundary: 'service',
 *   })
 *   .enrich('add product details', async (req) => ({ ...req, items: await priced(req.items) }))
 *   .validate('check order', Order.transform(withTotals), { boundary: 'database' })
 *   .build();
 *
 * const result = await createOrder.run(requestBody);
 * if (result.ok) await saveOrder(result.value);
 * else if (result.status === 'rejected') throw result.error; // or answer 400 / 500 by its code
 * ```
 */
export function pipeline<In = unknown>(
  name: string,
  options: PipelineOptions = {},
): PipelineBuilder<In, In> {
  assertNonEmptyString(name, 'name');
  assertOptionsObject(options, 'options');
  assertKnownKeys(options, ['logger', 'onStage', 'deadLetter'], 'options');
  const logger = options.logger ?? silentLogger;
  assertLogger(logger, 'options.logger');
  if (options.onStage !== undefined) assertFunction(options.onStage, 'options.onStage');
  if (options.deadLetter !== undefined) assertFunction(options.deadLetter, 'options.deadLetter');
  const config: BuilderConfig = Object.freeze({
    name,
    logger,
    onStage: options.onStage,
    deadLetter: options.deadLetter,
  });
  return new Builder(config, []) as unknown as PipelineBuilder<In, In>;
}

type AnyFn = (value: unknown, context: StageContext) => unknown;

class Builder {
  readonly #config: BuilderConfig;
  readonly #stages: readonly StageSpec[];

  constructor(config: BuilderConfig, stages: readonly StageSpec[]) {
    this.#config = config;
    this.#stages = stages;
  }

  validate(
    name: string,
    schema: StandardSchemaV1,
    options?: ValidateOptions<unknown, unknown> & {
      readonly at?: string;
      readonly into?: string;
    },
  ): Builder {
    assertStandardSchema(schema, `schema of stage "${String(name)}"`);
    if (options?.at !== undefined) assertFieldName(options.at, `options.at of stage "${name}"`);
    if (options?.into !== undefined) {
      assertFieldName(options.into, `options.into of stage "${name}"`);
    }
    if (options?.at !== undefined && options.into !== undefined) {
      throw new TypeError(`stage "${name}": options.at and options.into cannot be combined`);
    }
    // `into` strips nothing from the value, so unknown keys have no policy there.
    const known = options?.into === undefined ? VALIDATE_OPTIONS : VALIDATE_INTO_OPTIONS;
    return this.#add('validate', name, options, schema, undefined, known);
  }

  transform(name: string, fn: AnyFn, options?: StageOptions<unknown, unknown>): Builder {
    assertFunction(fn, `fn of stage "${String(name)}"`);
    return this.#add('transform', name, options, undefined, fn, STAGE_OPTIONS);
  }

  enrich(name: string, fn: AnyFn, options?: StageOptions<unknown, unknown>): Builder {
    assertFunction(fn, `fn of stage "${String(name)}"`);
    return this.#add('enrich', name, options, undefined, fn, STAGE_OPTIONS);
  }

  build(): Pipeline<unknown, unknown> {
    const { name, logger, onStage, deadLetter } = this.#config;
    if (this.#stages.length === 0) {
      throw new TypeError(`pipeline "${name}" has no stages; add one before build()`);
    }
    const deadLettering = this.#stages.find((s) => s.options.onError === 'dead-letter');
    if (deadLettering && deadLetter === undefined) {
      throw new TypeError(
        `options.deadLetter is required: stage "${deadLettering.name}" of pipeline "${name}" dead-letters failures`,
      );
    }
    checkDrops(this.#stages);
    const stages = this.#stages.map((spec, index) => compileStage(name, spec, index));
    return new BuiltPipeline(new PipelineRunner({ name, stages, logger, onStage, deadLetter }));
  }

  #add(
    kind: StageKind,
    name: string,
    options: StageOptions<unknown, unknown> | undefined,
    schema: StandardSchemaV1 | undefined,
    fn: AnyFn | undefined,
    known: readonly string[],
  ): Builder {
    assertNonEmptyString(name, 'stage name');
    if (this.#stages.some((stage) => stage.name === name)) {
      throw new TypeError(
        `pipeline "${this.#config.name}" already has a stage named "${name}"; stage names must be unique`,
      );
    }
    // Only a missing argument defaults: `null` is refused, as pipeline() refuses it.
    const checked = checkStageOptions(options === undefined ? {} : options, name, known);
    const boundary = checked.boundary ?? this.#stages.at(-1)?.boundary ?? 'service';
    const spec: StageSpec = Object.freeze({ kind, name, boundary, schema, fn, options: checked });
    return new Builder(this.#config, [...this.#stages, spec]);
  }
}

/** The option keys every stage takes. */
const STAGE_OPTIONS: readonly string[] = [
  'boundary',
  'onError',
  'drops',
  'adds',
  'masks',
  'allowFieldLoss',
  'description',
  'docs',
];
const VALIDATE_INTO_OPTIONS: readonly string[] = [...STAGE_OPTIONS, 'into'];
const VALIDATE_OPTIONS: readonly string[] = [...STAGE_OPTIONS, 'unknownKeys', 'at'];

/** The boundaries where data comes from outside: unknown keys are stripped there by default. */
const UNTRUSTED_BOUNDARIES: ReadonlySet<string> = new Set(['client', 'gateway', 'external']);

function checkStageOptions(
  options: ValidateOptions<unknown, unknown>,
  stage: string,
  known: readonly string[],
): ValidateOptions<unknown, unknown> {
  const at = (option: string) => `options.${option} of stage "${stage}"`;
  assertOptionsObject(options, `options of stage "${stage}"`);
  assertKnownKeys(options, known, `stage "${stage}" options`);
  if (options.boundary !== undefined) assertNonEmptyString(options.boundary, at('boundary'));
  const unknownKeys: UnknownKeysPolicy | undefined = options.unknownKeys;
  if (unknownKeys !== undefined && unknownKeys !== 'strip' && unknownKeys !== 'reject') {
    throw new TypeError(`${at('unknownKeys')} must be 'strip' or 'reject'`);
  }
  if (unknownKeys !== undefined && options.allowFieldLoss === true) {
    // With the check off nothing is compared, so unknown keys could only be stripped.
    throw new TypeError(`${at('unknownKeys')} cannot be combined with allowFieldLoss: true`);
  }
  const policy = options.onError;
  if (
    policy !== undefined &&
    policy !== 'reject' &&
    policy !== 'dead-letter' &&
    (typeof policy !== 'object' || policy === null || !('fallback' in policy))
  ) {
    throw new TypeError(`${at('onError')} must be 'reject', 'dead-letter' or { fallback }`);
  }
  const list = (value: readonly string[] | undefined, option: string) => {
    if (value === undefined) return undefined;
    if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v === '')) {
      throw new TypeError(`${at(option)} must be an array of non-empty field paths`);
    }
    return Object.freeze([...value]);
  };
  const drops = list(options.drops, 'drops');
  const adds = list(options.adds, 'adds');
  const masks = list(options.masks, 'masks');
  if (options.allowFieldLoss !== undefined && typeof options.allowFieldLoss !== 'boolean') {
    throw new TypeError(`${at('allowFieldLoss')} must be a boolean`);
  }
  if (options.description !== undefined && typeof options.description !== 'string') {
    throw new TypeError(`${at('description')} must be a string`);
  }
  const docs = options.docs === undefined ? undefined : checkDocs(options.docs, stage, at);
  return Object.freeze({
    ...options,
    ...(drops === undefined ? {} : { drops }),
    ...(adds === undefined ? {} : { adds }),
    ...(masks === undefined ? {} : { masks }),
    ...(docs === undefined ? {} : { docs }),
  });
}

const DOC_SECTIONS = ['input', 'transformation', 'output', 'validation', 'errorHandling'] as const;

/** Checks and copies `docs`, so a bad section fails here rather than in `toMarkdown()`. */
function checkDocs(docs: StageDocs, stage: string, at: (option: string) => string): StageDocs {
  assertOptionsObject(docs, at('docs'));
  assertKnownKeys(docs, DOC_SECTIONS, `stage "${stage}" options.docs`);
  const copy: Record<string, unknown> = { ...docs };
  for (const section of DOC_SECTIONS) {
    const text: unknown = docs[section];
    if (text === undefined || typeof text === 'string') continue;
    if (!Array.isArray(text) || text.some((line) => typeof line !== 'string')) {
      throw new TypeError(`${at(`docs.${section}`)} must be a string or an array of strings`);
    }
    copy[section] = Object.freeze([...text]);
  }
  return Object.freeze(copy) as StageDocs;
}

/**
 * Refuses a `drops` path that the stage's input cannot have: when the stage before it is a
 * validate stage whose schema's output is a closed object (a zod `z.object`) that does not declare
 * the path. After a transform or an enrichment the input's shape is not known (they may add any
 * field), so their successors' `drops` are taken as declared.
 */
function checkDrops(stages: readonly StageSpec[]): void {
  let shape: (() => JsonSchema | undefined) | undefined;
  for (const spec of stages) {
    const drops = spec.options.drops ?? [];
    const json = drops.length > 0 && shape !== undefined ? shape() : undefined;
    for (const path of json === undefined ? [] : drops) {
      if (cannotHave(json as JsonSchema, path.split('.'))) {
        throw new TypeError(
          `options.drops of stage "${spec.name}" names "${path}", which its input cannot have: the schema of the stage before it does not declare it`,
        );
      }
    }
    shape = nextShape(spec, shape);
  }
}

/** The JSON Schema of what `spec` outputs, computed once and only when asked; undefined: unknown. */
function nextShape(
  spec: StageSpec,
  before: (() => JsonSchema | undefined) | undefined,
): (() => JsonSchema | undefined) | undefined {
  if (spec.kind !== 'validate') return undefined;
  const { at, into } = spec.options as { at?: string; into?: string };
  const field = at ?? into;
  if (field !== undefined && before === undefined) return undefined;
  let memo: { json: JsonSchema | undefined } | undefined;
  return () => {
    if (memo) return memo.json;
    const own = toJsonSchema(spec.schema, 'output');
    if (field === undefined) {
      memo = { json: own };
    } else {
      const base = before?.();
      const properties = base?.properties;
      memo = {
        json:
          typeof properties === 'object' && properties !== null
            ? { ...base, properties: { ...properties, [field]: own ?? {} } }
            : undefined,
      };
    }
    return memo.json;
  };
}

/** True when `json` describes closed objects along `segments` and one of them lacks the key. */
function cannotHave(json: JsonSchema, segments: readonly string[]): boolean {
  let node: JsonSchema = json;
  for (const segment of segments) {
    if (segment === '*') {
      const items = node.items;
      if (node.type !== 'array' || typeof items !== 'object' || items === null) return false;
      node = items as JsonSchema;
      continue;
    }
    const properties = node.properties;
    if (typeof properties !== 'object' || properties === null) return false;
    if (!Object.hasOwn(properties, segment)) return node.additionalProperties === false;
    node = (properties as Record<string, JsonSchema>)[segment] as JsonSchema;
  }
  return false;
}

/**
 * Checks an `at` or `into` field name. `__proto__` is refused: writing it on the stage's copy of
 * the value would set the copy's prototype instead of a field. `constructor` and `prototype` are
 * accepted: assigning either on a plain object creates an ordinary own field.
 */
function assertFieldName(value: unknown, name: string): asserts value is string {
  assertNonEmptyString(value, name);
  if (value === '__proto__') {
    throw new TypeError(`${name} cannot be "__proto__": it would set the value's prototype`);
  }
}

function compileStage(pipelineName: string, spec: StageSpec, index: number): CompiledStage {
  const { options } = spec;
  const into = (options as { into?: string }).into;
  const policy = options.onError ?? 'reject';
  let fallback: ((failure: StageFailure<unknown>) => unknown) | undefined;
  if (typeof policy === 'object') {
    const given = policy.fallback;
    fallback =
      typeof given === 'function'
        ? (given as (failure: StageFailure<unknown>) => unknown)
        : () => given;
  }
  return Object.freeze({
    pipeline: pipelineName,
    name: spec.name,
    index,
    kind: spec.kind,
    boundary: spec.boundary,
    schema: spec.schema,
    validator: spec.schema === undefined ? undefined : schemaValidator(spec.schema),
    unknownKeys:
      spec.kind !== 'validate' || into !== undefined
        ? undefined
        : options.allowFieldLoss === true
          ? 'strip'
          : ((options as ValidateOptions<unknown, unknown>).unknownKeys ??
            (UNTRUSTED_BOUNDARIES.has(spec.boundary) ? 'strip' : 'reject')),
    declared: {},
    at: (options as { at?: string }).at,
    into,
    fn: spec.fn,
    policy: typeof policy === 'object' ? 'fallback' : policy,
    fallback,
    checkFieldLoss: options.allowFieldLoss !== true,
    drops: new Set(options.drops ?? []),
    context: Object.freeze({
      pipeline: pipelineName,
      stage: spec.name,
      boundary: spec.boundary,
      signal: undefined,
    }),
    spanName: `${pipelineName}/${spec.name}`,
    spanAttributes: Object.freeze({
      'flowproof.pipeline': pipelineName,
      'flowproof.pipeline.stage': spec.name,
      'flowproof.pipeline.stage_kind': spec.kind,
      'flowproof.pipeline.boundary': spec.boundary,
    }),
    options,
  });
}

class BuiltPipeline implements Pipeline<unknown, unknown> {
  readonly #runner: PipelineRunner;
  #description: PipelineDescription | undefined;

  constructor(runner: PipelineRunner) {
    this.#runner = runner;
  }

  get name(): string {
    return this.#runner.name;
  }

  run(input: unknown, options?: RunOptions): Promise<PipelineResult<unknown>> {
    try {
      const signal = checkRunOptions(options);
      const result = this.#runner.execute(input, signal, false);
      return isThenable(result) ? result : Promise.resolve(result);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  runSync(input: unknown): PipelineResult<unknown> {
    return this.#runner.execute(input, undefined, true) as PipelineResult<unknown>;
  }

  stream(
    source: Iterable<unknown> | AsyncIterable<unknown>,
    options: BatchOptions = {},
  ): AsyncIterableIterator<BatchOutcome<unknown, unknown>> {
    const checked = checkBatchOptions(source, options, BATCH_OPTIONS);
    return streamBatch(this.#runner, source, checked);
  }

  runBatch(
    source: Iterable<unknown> | AsyncIterable<unknown>,
    options: BatchReportOptions = {},
  ): Promise<BatchReport<unknown, unknown>> {
    try {
      const checked = checkBatchOptions(source, options);
      return collectBatchReport(streamBatch(this.#runner, source, checked), checked.keep);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  describe(): PipelineDescription {
    this.#description ??= describePipeline(this.#runner.name, this.#runner.stages);
    return this.#description;
  }

  toMermaid(): string {
    return pipelineToMermaid(this.describe());
  }

  toMarkdown(): string {
    return pipelineToMarkdown(this.describe());
  }
}

function checkRunOptions(options: RunOptions | undefined): AbortSignal | undefined {
  if (options === undefined) return undefined;
  assertOptionsObject(options, 'options');
  assertKnownKeys(options, ['signal'], 'options');
  const { signal } = options;
  assertSignal(signal);
  return signal;
}
