/**
 * The OpenLineage run events flowproof emits, typed: the subset of the OpenLineage 2-0-2 event
 * and of the standard facets it fills in, plus its own facets (`flowproof_*`). Also what every
 * event builder shares: options, facet envelopes and deterministic run ids.
 */
import { createHash } from 'node:crypto';
import { describeValue, isFlowproofError } from '../../core/errors.js';
import { assertKnownKeys, assertOptionsObject } from '../../core/options.js';
import { FLOWPROOF_VERSION } from './flowproof-version.js';

/** The OpenLineage schema version of the events. */
export const OPENLINEAGE_SCHEMA_URL =
  'https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent';

/** The default `producer` of events and facets: this version of flowproof's package page. */
export const FLOWPROOF_PRODUCER = `https://www.npmjs.com/package/flowproof/v/${FLOWPROOF_VERSION}`;

const FACETS = 'https://openlineage.io/spec/facets';
/** Where each standard facet's schema lives (`_schemaURL`). */
const FACET_SCHEMA_URLS = {
  jobType: `${FACETS}/2-0-4/JobTypeJobFacet.json#/$defs/JobTypeJobFacet`,
  errorMessage: `${FACETS}/1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet`,
  processingEngine: `${FACETS}/1-1-1/ProcessingEngineRunFacet.json#/$defs/ProcessingEngineRunFacet`,
  parent: `${FACETS}/1-2-0/ParentRunFacet.json#/$defs/ParentRunFacet`,
  schema: `${FACETS}/1-2-0/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet`,
  columnLineage: `${FACETS}/1-2-0/ColumnLineageDatasetFacet.json#/$defs/ColumnLineageDatasetFacet`,
} as const;

/**
 * The JSON Schema of flowproof's own facets (`flowproof_*`), shipped in the package as
 * `docs/openlineage-facets.json`.
 */
const FLOWPROOF_FACETS = `https://unpkg.com/flowproof@${FLOWPROOF_VERSION}/docs/openlineage-facets.json`;

/** The transition a run event reports. flowproof emits `START` and one of the last three. */
export type OpenLineageEventType = 'START' | 'COMPLETE' | 'ABORT' | 'FAIL';

/** What every facet carries: who made it and the schema it follows. */
export interface OpenLineageFacet {
  /** URI of the software that made the facet. */
  readonly _producer: string;
  /** URL of the facet's JSON Schema definition. */
  readonly _schemaURL: string;
}

/** `jobType` job facet: how the job runs. */
export interface JobTypeJobFacet extends OpenLineageFacet {
  /** `BATCH`: every run is finite and ends with `COMPLETE`, `FAIL` or `ABORT`. */
  readonly processingType: 'BATCH';
  /** Always `FLOWPROOF`. */
  readonly integration: 'FLOWPROOF';
  /** `PIPELINE`, `CALCULATION` or `SAGA`. */
  readonly jobType: 'PIPELINE' | 'CALCULATION' | 'SAGA';
}

/** `errorMessage` run facet: why a run failed or was aborted. */
export interface ErrorMessageRunFacet extends OpenLineageFacet {
  /** The error's message (with its code first, when it has one). */
  readonly message: string;
  /** Always `TypeScript`. */
  readonly programmingLanguage: 'TypeScript';
}

/** `processing_engine` run facet: the software that ran the job. */
export interface ProcessingEngineRunFacet extends OpenLineageFacet {
  /** Always `flowproof`. */
  readonly name: 'flowproof';
  /** flowproof's version. */
  readonly version: string;
  /** flowproof's version (flowproof is its own OpenLineage integration). */
  readonly openlineageAdapterVersion: string;
}

/** A run and its job, as a parent facet names them. */
export interface OpenLineageRunRef {
  /** The run's id (a UUID). */
  readonly runId: string;
  /** The job's namespace. */
  readonly namespace: string;
  /** The job's name. */
  readonly name: string;
}

/** A run, by id. */
export interface OpenLineageRunId {
  /** The run's id (a UUID). */
  readonly runId: string;
}

/** A job, by namespace and name. */
export interface OpenLineageJobId {
  /** The job's namespace. */
  readonly namespace: string;
  /** The job's name. */
  readonly name: string;
}

/** A run and its job, as the `parent` facet names them. */
export interface OpenLineageRunAndJob {
  /** The run. */
  readonly run: OpenLineageRunId;
  /** Its job. */
  readonly job: OpenLineageJobId;
}

/** `parent` run facet: the run that spawned this one (and the root of the tree). */
export interface ParentRunFacet extends OpenLineageFacet, OpenLineageRunAndJob {
  /** The top of the tree, when the parent is not it. */
  readonly root?: OpenLineageRunAndJob;
}

/** `flowproof_calculation` run facet: the calculation a derived value's run ran. */
export interface FlowproofCalculationRunFacet extends OpenLineageFacet {
  /** The calculation's name. */
  readonly calculation: string;
  /** Its version. */
  readonly version: string;
  /** The entity whose field was recorded, when the run comes from a record. */
  readonly entity?: string;
  /** The recorded field. */
  readonly field?: string;
  /** The lineage record's id. */
  readonly recordId?: string;
  /** Where the value sits in the record's provenance (`inputs.subtotal`; empty for the field). */
  readonly path?: string;
}

/** `flowproof_saga` run facet: the saga a run stands for. */
export interface FlowproofSagaRunFacet extends OpenLineageFacet {
  /** The saga's id. */
  readonly sagaId: string;
  /** The definition's version. */
  readonly version: number;
  /** Its status. */
  readonly status: string;
  /** How many times it was redriven. */
  readonly redrives: number;
  /** Its steps, in the order they started. */
  readonly steps: readonly FlowproofSagaStep[];
}

/** A step of a saga, in the `flowproof_saga` facet. */
export interface FlowproofSagaStep {
  /** The step's name. */
  readonly step: string;
  /** Where it is: `pending`, `running`, `waiting`, `completed` or `failed`. */
  readonly status: string;
}

/** `flowproof_correlation` run facet: the flow context of the run. */
export interface FlowproofCorrelationRunFacet extends OpenLineageFacet {
  /** The flow's correlation id. */
  readonly correlationId: string;
  /** The flow's causation id. */
  readonly causationId?: string;
}

/** The run facets flowproof fills in. */
export interface OpenLineageRunFacets {
  /** The run that spawned this one. */
  readonly parent?: ParentRunFacet;
  /** flowproof and its version. */
  readonly processing_engine?: ProcessingEngineRunFacet;
  /** Why the run failed. */
  readonly errorMessage?: ErrorMessageRunFacet;
  /** The calculation a derived value's run ran. */
  readonly flowproof_calculation?: FlowproofCalculationRunFacet;
  /** The saga. */
  readonly flowproof_saga?: FlowproofSagaRunFacet;
  /** The flow's correlation and causation ids. */
  readonly flowproof_correlation?: FlowproofCorrelationRunFacet;
}

/** One field of a `schema` facet. */
export interface SchemaField {
  /** The field's name. */
  readonly name: string;
}

/** `schema` dataset facet: the dataset's fields. */
export interface SchemaDatasetFacet extends OpenLineageFacet {
  /** Its fields. */
  readonly fields: readonly SchemaField[];
}

/** How an input field became an output field. */
export interface ColumnTransformation {
  /** Always `DIRECT`: the output's value is made from the input's. */
  readonly type: 'DIRECT';
  /** `IDENTITY` when the value passed unchanged, `TRANSFORMATION` when something changed it. */
  readonly subtype: 'IDENTITY' | 'TRANSFORMATION';
  /** What it went through: the stages, or the calculation and its version. */
  readonly description: string;
  /** True when the value was masked or redacted on the way. */
  readonly masking: boolean;
}

/** One input field an output field comes from. */
export interface ColumnInputField {
  /** The input dataset's namespace. */
  readonly namespace: string;
  /** The input dataset's name. */
  readonly name: string;
  /** The input field. */
  readonly field: string;
  /** How it became the output field. */
  readonly transformations: readonly ColumnTransformation[];
}

/**
 * `columnLineage` dataset facet: for each output field, the input fields it comes from. A field a
 * stage added (an enrichment, a computed field) has no input field: its `inputFields` is empty.
 */
export interface ColumnLineageDatasetFacet extends OpenLineageFacet {
  /** Output field → its input fields. */
  readonly fields: Readonly<Record<string, ColumnLineageField>>;
}

/** Where one output field comes from. */
export interface ColumnLineageField {
  /** The input fields it is made from; empty for a field made from none (added by a stage). */
  readonly inputFields: readonly ColumnInputField[];
}

/** The dataset facets flowproof fills in. */
export interface OpenLineageDatasetFacets {
  /** The dataset's fields. */
  readonly schema?: SchemaDatasetFacet;
  /** Where each of an output dataset's fields comes from. */
  readonly columnLineage?: ColumnLineageDatasetFacet;
}

/** A dataset a run reads or writes. */
export interface OpenLineageDataset {
  /** Its namespace: the emitter's, or a source's name. */
  readonly namespace: string;
  /** Its name. */
  readonly name: string;
  /** Its facets. */
  readonly facets?: OpenLineageDatasetFacets;
}

/** A run, with its facets. */
export interface OpenLineageRun extends OpenLineageRunId {
  /** Its facets. */
  readonly facets?: OpenLineageRunFacets;
}

/** The job facets flowproof fills in. */
export interface OpenLineageJobFacets {
  /** How the job runs. */
  readonly jobType?: JobTypeJobFacet;
}

/** A job, with its facets. */
export interface OpenLineageJob extends OpenLineageJobId {
  /** Its facets. */
  readonly facets?: OpenLineageJobFacets;
}

/** An OpenLineage run event, as flowproof emits it. */
export interface OpenLineageRunEvent {
  /** The transition. */
  readonly eventType: OpenLineageEventType;
  /** When it happened (ISO-8601 UTC). */
  readonly eventTime: string;
  /** URI of the software that made the event. */
  readonly producer: string;
  /** The OpenLineage schema the event follows. */
  readonly schemaURL: string;
  /** The run. */
  readonly run: OpenLineageRun;
  /** The job the run is a run of. */
  readonly job: OpenLineageJob;
  /** Datasets the run read. */
  readonly inputs: readonly OpenLineageDataset[];
  /** Datasets the run wrote. */
  readonly outputs: readonly OpenLineageDataset[];
}

/** Options every event builder takes. */
export interface OpenLineageEventOptions {
  /** The namespace of jobs and of flowproof's own datasets, e.g. `checkout-service`. */
  readonly namespace: string;
  /**
   * URI of the software that made the events.
   * @default flowproof's package page for this version
   */
  readonly producer?: string;
  /**
   * The run that spawned this one (a scheduler's run, a request's run), for the `parent` facet.
   * @default none
   */
  readonly parent?: OpenLineageRunRef;
}

/** {@link OpenLineageEventOptions} checked and filled in. @internal */
export interface ResolvedEventOptions {
  readonly namespace: string;
  readonly producer: string;
  readonly parent: OpenLineageRunRef | undefined;
}

const EVENT_OPTION_KEYS = ['namespace', 'producer', 'parent'];

/**
 * Checks the builders' options.
 *
 * @throws TypeError naming the option.
 * @internal
 */
export function resolveEventOptions(
  options: OpenLineageEventOptions,
  extraKeys: readonly string[] = [],
): ResolvedEventOptions {
  assertOptionsObject(options, 'options');
  assertKnownKeys(options, [...EVENT_OPTION_KEYS, ...extraKeys], 'options');
  assertText(options.namespace, 'options.namespace');
  const producer = options.producer ?? FLOWPROOF_PRODUCER;
  assertUri(producer, 'options.producer');
  const { parent } = options;
  if (parent !== undefined) {
    assertOptionsObject(parent, 'options.parent');
    assertKnownKeys(parent, ['runId', 'namespace', 'name'], 'options.parent');
    assertUuid(parent.runId, 'options.parent.runId');
    assertText(parent.namespace, 'options.parent.namespace');
    assertText(parent.name, 'options.parent.name');
  }
  return { namespace: options.namespace, producer, parent };
}

/** Throws a `TypeError` naming `name` unless `value` is a non-empty string. @internal */
export function assertText(value: unknown, name: string): asserts value is string {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new TypeError(`${name} must be a non-empty string, got ${describeValue(value)}`);
  }
}

/** Throws a `TypeError` naming `name` unless `value` is an absolute URI. @internal */
export function assertUri(value: unknown, name: string): asserts value is string {
  if (typeof value !== 'string' || !URL.canParse(value)) {
    throw new TypeError(`${name} must be an absolute URI, got ${describeValue(value)}`);
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Throws a `TypeError` naming `name` unless `value` is a UUID. @internal */
export function assertUuid(value: unknown, name: string): asserts value is string {
  if (typeof value !== 'string' || !UUID.test(value)) {
    throw new TypeError(`${name} must be a UUID, got ${describeValue(value)}`);
  }
}

/** The namespace of flowproof's name-based run ids (a fixed, random UUID). */
const RUN_ID_NAMESPACE = Buffer.from('6f1d3c52a8e94b7e9c0a2f4e1b7d8a35', 'hex');

/**
 * A UUID (version 5, RFC 9562: SHA-1 of a namespace and `name`) that is the same every time for
 * the same `name`, so re-emitting a run's events names the same run.
 *
 * @internal
 */
export function nameBasedRunId(name: string): string {
  const hash = createHash('sha1').update(RUN_ID_NAMESPACE).update(name, 'utf8').digest();
  hash[6] = ((hash[6] as number) & 0x0f) | 0x50;
  hash[8] = ((hash[8] as number) & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A standard facet with its envelope. @internal */
export function standardFacet<K extends keyof typeof FACET_SCHEMA_URLS, B extends object>(
  kind: K,
  producer: string,
  body: B,
): OpenLineageFacet & B {
  return { _producer: producer, _schemaURL: FACET_SCHEMA_URLS[kind], ...body };
}

/** One of flowproof's own facets with its envelope (`name` is its definition's name). @internal */
export function flowproofFacet<B extends object>(
  name: string,
  producer: string,
  body: B,
): OpenLineageFacet & B {
  return { _producer: producer, _schemaURL: `${FLOWPROOF_FACETS}#/$defs/${name}`, ...body };
}

/** The `processing_engine` facet. @internal */
export function processingEngineFacet(producer: string): ProcessingEngineRunFacet {
  return standardFacet('processingEngine', producer, {
    name: 'flowproof' as const,
    version: FLOWPROOF_VERSION,
    openlineageAdapterVersion: FLOWPROOF_VERSION,
  });
}

/** The `jobType` facet of a flowproof job of `jobType`. @internal */
export function jobTypeFacet(
  producer: string,
  jobType: JobTypeJobFacet['jobType'],
): JobTypeJobFacet {
  // BATCH: every run flowproof reports (a record through a pipeline, a calculation, a saga) is
  // finite and ends with COMPLETE, FAIL or ABORT; STREAMING is for jobs with no natural end.
  return standardFacet('jobType', producer, {
    processingType: 'BATCH' as const,
    integration: 'FLOWPROOF' as const,
    jobType,
  });
}

/** The `errorMessage` facet for `message`. @internal */
export function errorMessageFacet(producer: string, message: string): ErrorMessageRunFacet {
  return standardFacet('errorMessage', producer, {
    message,
    programmingLanguage: 'TypeScript' as const,
  });
}

/** The `parent` facet naming `parent` (and `root`, when it is another run). @internal */
export function parentFacet(
  producer: string,
  parent: OpenLineageRunRef,
  root?: OpenLineageRunRef,
): ParentRunFacet {
  const ref = (run: OpenLineageRunRef) => ({
    run: { runId: run.runId },
    job: { namespace: run.namespace, name: run.name },
  });
  return standardFacet('parent', producer, {
    ...ref(parent),
    ...(root !== undefined && root.runId !== parent.runId ? { root: ref(root) } : {}),
  });
}

/** The `schema` facet listing `fields`. @internal */
export function schemaFacet(producer: string, fields: readonly string[]): SchemaDatasetFacet {
  return standardFacet('schema', producer, { fields: fields.map((name) => ({ name })) });
}

/** The `columnLineage` facet. @internal */
export function columnLineageFacet(
  producer: string,
  fields: Record<string, ColumnLineageField>,
): ColumnLineageDatasetFacet {
  return standardFacet('columnLineage', producer, { fields });
}

/** The `flowproof_correlation` facet, when there is a correlation id. @internal */
export function correlationFacets(
  producer: string,
  correlationId: string | undefined,
  causationId: string | undefined,
): { readonly flowproof_correlation?: FlowproofCorrelationRunFacet } {
  if (correlationId === undefined) return {};
  return {
    flowproof_correlation: flowproofFacet('FlowproofCorrelationRunFacet', producer, {
      correlationId,
      ...(causationId === undefined ? {} : { causationId }),
    }),
  };
}

/**
 * An error's message for an `errorMessage` facet: `CODE: message` when it has a code. Never
 * throws: a calculation may throw anything, a revoked proxy included. @internal
 */
export function errorText(error: unknown): string {
  try {
    if (typeof error === 'object' && error !== null) {
      const { code, message } = error as { code?: unknown; message?: unknown };
      const text = typeof message === 'string' && message !== '' ? message : describeValue(error);
      return typeof code === 'string' && code !== '' ? `${code}: ${text}` : text;
    }
    return typeof error === 'string' ? error : describeValue(error);
  } catch {
    return 'an error that cannot be read';
  }
}

/**
 * What `build` makes of the caller's argument `name`. A member it cannot read or use (a revoked
 * proxy, a getter that throws, a value of the wrong type) is a `TypeError` naming the argument,
 * with what was thrown as `cause`, rather than an engine error from deep inside. @internal
 */
export function fromArgument<T>(name: string, what: string, build: () => T): T {
  try {
    return build();
  } catch (error) {
    const named =
      error instanceof TypeError &&
      (error.message.startsWith(`${name} `) ||
        error.message.startsWith(`${name}.`) ||
        error.message.startsWith('options') ||
        error.message.startsWith('unknown option'));
    if (named || isFlowproofError(error)) throw error;
    throw new TypeError(`${name} must be ${what}`, { cause: error });
  }
}

/** What {@link startAndEnd} needs besides the run. @internal */
export interface RunSpan {
  readonly startedAt: string;
  readonly endedAt: string | undefined;
  readonly end: 'COMPLETE' | 'FAIL' | 'ABORT';
  readonly inputs: readonly OpenLineageDataset[];
  readonly outputs: readonly OpenLineageDataset[];
  readonly error?: string;
}

/**
 * `START` at `span.startedAt` and, when `span.endedAt` is known, the end event (with an
 * `errorMessage` facet when `span.error` is given).
 *
 * @internal
 */
export function startAndEnd(
  { producer }: ResolvedEventOptions,
  run: OpenLineageRunRef,
  jobType: 'PIPELINE' | 'CALCULATION' | 'SAGA',
  facets: OpenLineageRunFacets,
  span: RunSpan,
): OpenLineageRunEvent[] {
  const job = {
    namespace: run.namespace,
    name: run.name,
    facets: { jobType: jobTypeFacet(producer, jobType) },
  };
  const base = { producer, schemaURL: OPENLINEAGE_SCHEMA_URL, job, inputs: span.inputs };
  const events: OpenLineageRunEvent[] = [
    {
      eventType: 'START',
      eventTime: span.startedAt,
      ...base,
      run: { runId: run.runId, facets },
      outputs: [],
    },
  ];
  if (span.endedAt !== undefined) {
    events.push({
      eventType: span.end,
      eventTime: span.endedAt,
      ...base,
      run: {
        runId: run.runId,
        facets:
          span.error === undefined
            ? facets
            : { ...facets, errorMessage: errorMessageFacet(producer, span.error) },
      },
      outputs: span.outputs,
    });
  }
  return events;
}
