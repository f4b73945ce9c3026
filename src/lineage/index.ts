/**
 * Lineage: where a value came from. Values computed in application code carry their inputs,
 * sources and calculation versions (`sourced`, `derive`); a recorder stores them per entity and
 * field and explains them back as a tree, a Mermaid diagram or Markdown; validation pipelines'
 * stages become lineage; runs export as OpenLineage events; and the flow context's correlation
 * ids survive every hop.
 *
 * Correlation (`correlation/`): HTTP in (`flowContextMiddleware`, `withFlowContext`) and out
 * (`createContextFetch`), `pg.Pool` waiters (`bindPoolToContext`), concurrency limits
 * (`limitConcurrency`), worker threads and other message hops (`contextTaskMessage`,
 * `runInTaskContext`), and log lines (`correlationMixin`).
 *
 * @module
 */

export {
  type CorrelationFields,
  type CorrelationMixinOptions,
  correlationMixin,
  type LogMixin,
} from './correlation/correlation-mixin.js';
export {
  type FlowContextMiddleware,
  flowContextMiddleware,
  type HttpContextOptions,
  type HttpRequestLike,
  type HttpResponseLike,
  withFlowContext,
} from './correlation/inbound-http-context.js';
export { type ConcurrencyLimit, limitConcurrency } from './correlation/limit-concurrency.js';
export {
  type ContextFetchOptions,
  createContextFetch,
  type FetchLike,
} from './correlation/outbound-http-context.js';
export { bindPoolToContext, type ContextBindablePool } from './correlation/pg-pool-context.js';
export {
  type ContextTaskMessage,
  contextTaskMessage,
  runInTaskContext,
} from './correlation/worker-task-context.js';
export {
  Explanation,
  type ExplanationData,
  type LineageMetadata,
  type PipelineStep,
  type PipelineStepAction,
} from './explanation.js';
export {
  createLineage,
  type ExplainOptions,
  type Lineage,
  type LineageEventSink,
  type LineageHistoryOptions,
  type LineageHistoryPage,
  type LineageOptions,
  type LineagePurgeOptions,
  type LineagePurgeReport,
  type LineageTxOf,
  type RecordLineageOptions,
} from './lineage-recorder.js';
export type { FieldLineage, PipelineRunLineage, StageLineage } from './lineage-records.js';
export {
  LINEAGE_STORE_COMPONENT,
  type LineageAppend,
  type LineageCorrelationRead,
  type LineageHistoryRead,
  type LineagePosition,
  type LineagePurgeRequest,
  type LineageRecordKind,
  type LineageRow,
  type LineageStore,
} from './lineage-store.js';
// OpenLineage export: event builders, the emitter and its transports.
export {
  type DerivationFailure,
  derivationFailureEvents,
  fieldLineageEvents,
} from './openlineage/field-events.js';
export {
  createFileTransport,
  type FileTransportOptions,
} from './openlineage/file-transport.js';
export {
  createHttpTransport,
  type HttpTransportFetch,
  type HttpTransportOptions,
  type HttpTransportResponse,
} from './openlineage/http-transport.js';
export {
  createOpenLineageEmitter,
  type EmitOptions,
  type OpenLineageEmitter,
  type OpenLineageEmitterOptions,
} from './openlineage/openlineage-emitter.js';
export {
  type ColumnInputField,
  type ColumnLineageDatasetFacet,
  type ColumnLineageField,
  type ColumnTransformation,
  type ErrorMessageRunFacet,
  FLOWPROOF_PRODUCER,
  type FlowproofCalculationRunFacet,
  type FlowproofCorrelationRunFacet,
  type FlowproofSagaRunFacet,
  type FlowproofSagaStep,
  type JobTypeJobFacet,
  OPENLINEAGE_SCHEMA_URL,
  type OpenLineageDataset,
  type OpenLineageDatasetFacets,
  type OpenLineageEventOptions,
  type OpenLineageEventType,
  type OpenLineageFacet,
  type OpenLineageJob,
  type OpenLineageJobFacets,
  type OpenLineageJobId,
  type OpenLineageRun,
  type OpenLineageRunAndJob,
  type OpenLineageRunEvent,
  type OpenLineageRunFacets,
  type OpenLineageRunId,
  type OpenLineageRunRef,
  type ParentRunFacet,
  type ProcessingEngineRunFacet,
  type SchemaDatasetFacet,
  type SchemaField,
} from './openlineage/openlineage-event.js';
export type { OpenLineageTransport } from './openlineage/openlineage-transport.js';
export { pipelineRunEvents } from './openlineage/pipeline-run-events.js';
export { sagaEvents } from './openlineage/saga-events.js';
export {
  type Derived,
  type DerivedInputValues,
  type DerivedProvenance,
  derive,
  isTraced,
  type LineageJson,
  type LiteralProvenance,
  type Provenance,
  type SourcedFromOptions,
  type SourcedOptions,
  type SourcedProvenance,
  sourced,
  sourcedFrom,
  type Traced,
} from './provenance.js';
