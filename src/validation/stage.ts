/**
 * What a pipeline stage is: its kind, the trust boundary it sits at, its error policy and the
 * field-loss rules, plus the events and records a stage produces for callers and observers.
 */
import type { FlowproofError } from '../core/errors.js';

/**
 * A trust boundary: where data moves from a less trusted to a more trusted context. The reference
 * hierarchy is `client` (UX only, never trusted), `gateway` (request structure, authentication),
 * `service` (business rules), `database` (integrity, last line of defence) and `external` (a third
 * party's response); any other non-empty string names a boundary of your own.
 */
export type Boundary =
  | 'client'
  | 'gateway'
  | 'service'
  | 'database'
  | 'external'
  | (string & Record<never, never>);

/**
 * What a stage does: `validate` checks (and may coerce) the value against a schema, `transform`
 * reshapes it, `enrich` adds data from elsewhere (usually asynchronously).
 */
export type StageKind = 'validate' | 'transform' | 'enrich';

/** What happened at a stage: passed, used its fallback, dead-lettered the record, or failed. */
export type StageOutcome = 'passed' | 'fallback' | 'dead-lettered' | 'rejected';

/** The second argument of every transform and enrich function. */
export interface StageContext {
  /** Name of the pipeline. */
  readonly pipeline: string;
  /** Name of the stage running. */
  readonly stage: string;
  /** The stage's trust boundary. */
  readonly boundary: Boundary;
  /** The signal given to `run()` or `runBatch()`; pass it on to I/O so it can be cancelled. */
  readonly signal: AbortSignal | undefined;
}

/** What a fallback function receives when its stage fails. */
export interface StageFailure<In> {
  /** Why the stage failed: `PIPELINE_REJECTED`, `PIPELINE_STAGE_FAILED` or `PIPELINE_FIELD_LOST`. */
  readonly error: FlowproofError;
  /** The value the stage was given. */
  readonly value: In;
  /** The record the pipeline was given (its input), for context. Never mutate it. */
  readonly record: unknown;
}

/**
 * What a stage does when it fails (its schema reports issues, its function throws, or it loses a
 * field):
 *
 * - `'reject'`: the run ends with a `rejected` result carrying the stage's error (in a batch too).
 * - `{ fallback }`: the run continues with the fallback value (or the value the fallback function
 *   returns) and the record is flagged for review, like the reference's "tax calculation fails:
 *   use the default rate, flag for review". A fallback value is used as is, not copied; use a
 *   function to get a fresh object per record.
 * - `'dead-letter'`: the record and the error go to the pipeline's `deadLetter` sink and the run
 *   ends with a `dead-lettered` result; a batch carries on with the next record.
 */
export type StageErrorPolicy<In, Out> =
  | 'reject'
  | 'dead-letter'
  | {
      /** The value to continue with, or a function computing it from the failure. */
      readonly fallback: Out | ((failure: StageFailure<In>) => Out | Promise<Out>);
    };

/**
 * Per-stage documentation rendered by `toMarkdown()` in the reference's "Input / Transformation /
 * Output / Validation / Error handling" shape. A string is a paragraph, an array a bullet list.
 * Sections left out are derived from the stage (schema rules, declared fields, error policy).
 */
export interface StageDocs {
  /** What the stage receives. */
  readonly input?: string | readonly string[];
  /** What it does, step by step. */
  readonly transformation?: string | readonly string[];
  /** What it produces. */
  readonly output?: string | readonly string[];
  /** Rules checked here, in words; schema rules are listed after these. */
  readonly validation?: string | readonly string[];
  /** What happens on each kind of failure; the stage's error policy is listed after these. */
  readonly errorHandling?: string | readonly string[];
}

/** Options shared by every kind of stage. */
export interface StageOptions<In, Out> {
  /**
   * The trust boundary the stage sits at.
   * @default the previous stage's boundary; `'service'` for the first stage
   */
  readonly boundary?: Boundary;
  /**
   * What to do when the stage fails. See {@link StageErrorPolicy}.
   * @default 'reject'
   */
  readonly onError?: StageErrorPolicy<In, Out>;
  /**
   * Fields the stage removes on purpose, as dotted paths (`password`, `metadata.source`, and `*`
   * for array elements: `items.*.note`). Any other field of the input that is missing from the
   * output fails the stage with `PIPELINE_FIELD_LOST`. When the stage's input comes straight from
   * a validate stage whose schema lists its fields, a path the input cannot have is refused by
   * `build()`.
   * @default []
   */
  readonly drops?: readonly string[];
  /**
   * Fields the stage adds, for `describe()` and the generated docs.
   * @default []
   */
  readonly adds?: readonly string[];
  /**
   * Fields whose values the stage masks or redacts (the field stays, its real value does not), as
   * dotted paths. Lineage marks them as masked (`masking: true` in OpenLineage column lineage), so
   * nobody reads a masked value as the real one.
   * @default []
   */
  readonly masks?: readonly string[];
  /**
   * Turns the field-loss check off for this stage (for a stage that maps to a new shape, such as a
   * payment processor's format).
   * @default false
   */
  readonly allowFieldLoss?: boolean;
  /**
   * One line saying what the stage does; shown in diagrams' docs and `describe()`.
   * @default undefined
   */
  readonly description?: string;
  /**
   * Longer documentation for `toMarkdown()`.
   * @default undefined
   */
  readonly docs?: StageDocs;
}

/**
 * What a validate stage does with keys of its input that its schema does not declare and strips
 * (a zod `z.object` drops unknown keys): a client's extra field is the input's business, never a
 * lost field of yours.
 *
 * - `'strip'`: they are left out of the output, silently. The default at the untrusted boundaries
 *   (`client`, `gateway`, `external`), so a forward-compatible client or provider that sends a new
 *   field keeps working.
 * - `'reject'`: the stage fails with `PIPELINE_REJECTED`, one `unrecognized_keys` issue per key
 *   (its path ends with the key). The default at `service`, `database` and your own boundaries,
 *   where data comes from your own code and a key the schema does not know means a mismatch.
 *
 * To keep unknown keys, let the schema pass them through (`z.looseObject`, `.passthrough()`).
 */
export type UnknownKeysPolicy = 'strip' | 'reject';

/** Options of a validate stage that validates the whole value. */
export interface ValidateOptions<In, Out> extends StageOptions<In, Out> {
  /**
   * What to do with keys of the input that the schema strips; see {@link UnknownKeysPolicy}.
   * Cannot be combined with `allowFieldLoss: true`, which compares nothing (keys are stripped).
   * @default 'strip' at the `client`, `gateway` and `external` boundaries; 'reject' elsewhere
   */
  readonly unknownKeys?: UnknownKeysPolicy;
}

/** Why a record was flagged for review: a stage fell back to its default. */
export interface ReviewFlag {
  /** The stage that fell back. */
  readonly stage: string;
  /** The stage's boundary. */
  readonly boundary: Boundary;
  /** The failure that triggered the fallback. */
  readonly error: FlowproofError;
}

/** What a dead-letter sink receives. */
export interface DeadLetter {
  /** Name of the pipeline. */
  readonly pipeline: string;
  /** The stage that failed. */
  readonly stage: string;
  /** The stage's boundary. */
  readonly boundary: Boundary;
  /** The record the pipeline was given. */
  readonly record: unknown;
  /** The value the failing stage was given. */
  readonly value: unknown;
  /** Why the stage failed. */
  readonly error: FlowproofError;
}

/**
 * Receives records dead-lettered by a stage whose policy is `'dead-letter'` (a queue, a table, a
 * file). A returned promise is awaited; if the sink throws, the run ends `rejected` with
 * `PIPELINE_DEAD_LETTER_FAILED`, so a record is never silently lost.
 */
export type DeadLetterSink = (letter: DeadLetter) => void | Promise<void>;

/**
 * @internal Marks the stage events a pipeline made, so a hook that checks events it is handed
 * (lineage's `onStage`, which anyone may call) can trust those without reading every member. A
 * registered symbol: the ESM and CommonJS builds mark and recognise the same one.
 */
export const MADE_BY_PIPELINE: unique symbol = Symbol.for(
  'flowproof.validation.stage-event',
) as never;

/** What the `onStage` hook receives after each stage, for lineage and metrics. */
export interface StageEvent {
  /** Name of the pipeline. */
  readonly pipeline: string;
  /** Name of the stage. */
  readonly stage: string;
  /** Position of the stage, from 0. */
  readonly index: number;
  /** The stage's boundary. */
  readonly boundary: Boundary;
  /** The stage's kind. */
  readonly kind: StageKind;
  /** What happened. */
  readonly outcome: StageOutcome;
  /** Time spent in the stage, in milliseconds. */
  readonly durationMs: number;
  /** Top-level field names of the stage's input (empty when it is not an object). */
  readonly fieldsIn: readonly string[];
  /** Top-level field names of the stage's output (empty when it failed or is not an object). */
  readonly fieldsOut: readonly string[];
  /**
   * Top-level fields of both input and output whose value is not the same (`Object.is`). A
   * validate stage's schema copies objects and arrays, so there only fields holding other values
   * count (a coerced number, a defaulted string). A stage that changes its input in place and
   * returns it reports nothing here: return a new object (`{ ...order, total }`) for lineage to
   * see the change.
   */
  readonly fieldsChanged: readonly string[];
  /** Top-level fields of the output that the input did not have. */
  readonly fieldsAdded: readonly string[];
  /** Top-level fields of the input that the output does not have (empty when the stage failed). */
  readonly fieldsDropped: readonly string[];
  /** The stage's `masks` option: fields whose values it masks or redacts. */
  readonly fieldsMasked: readonly string[];
  /** One id per run of the pipeline (a UUID), shared by the events of its stages. */
  readonly runId: string;
  /** How many stages the pipeline has: the run has ended after the event with `index` one less. */
  readonly stageCount: number;
  /** The flow context's correlation id, when there is one. */
  readonly correlationId: string | undefined;
  /** The stage's error, when it failed (`outcome` other than `passed`). */
  readonly error: FlowproofError | undefined;
}

/**
 * `Base` with field `K` set to a value of type `V`: what a validate stage with `at` or `into`
 * produces.
 *
 * @typeParam Base - the value before the stage.
 * @typeParam K - the field written.
 * @typeParam V - the schema's output.
 */
export type WithField<Base, K extends PropertyKey, V> = {
  [P in keyof Base | K]: P extends K ? V : P extends keyof Base ? Base[P] : never;
};

/**
 * Options of a validate stage that checks one field of the value in place. Only that field is
 * parsed (issue paths start with it); the rest of the value, already validated at an earlier
 * boundary, passes through as it is. Use it where one part of the data crosses a boundary: the
 * catalog's prices after an enrichment, a third party's answer.
 */
export interface ValidateAtOptions<In, K extends string, Out> extends ValidateOptions<In, Out> {
  /** The top-level field to validate; the schema's output replaces it. */
  readonly at: K;
}

/**
 * Options of a validate stage that derives a field: the schema validates the value (typically an
 * object schema naming just the fields it needs) and its output is written into a field, while the
 * value itself passes through unchanged, so fields the schema does not name are not stripped.
 */
export interface ValidateIntoOptions<In, K extends string, Out> extends StageOptions<In, Out> {
  /** The top-level field the schema's output is written into (added or replaced). */
  readonly into: K;
}
