/**
 * flowproof's core: errors with stable codes, ids, the clock, the flow context (correlation id,
 * actor, tenant) carried across async work and process boundaries, logging and tracing hooks,
 * Standard Schema support, and the {@link StorageBackend} port every module's stores build on.
 *
 * Modules live in their own subpaths (`flowproof/validation`, `flowproof/idempotency`…) and
 * backends in `flowproof/adapters/*`; this entry never loads a database driver.
 *
 * @module
 */

export {
  type Clock,
  createManualClock,
  hasUtcOffset,
  type ManualClock,
  parseInstant,
  systemClock,
  toUtcIso,
} from './core/clock.js';
export {
  type Actor,
  bindContext,
  CONTEXT_HEADERS,
  type FlowContext,
  type FlowContextInput,
  getContext,
  type RestoreContextOptions,
  type RestoredContext,
  restoreContext,
  runWithContext,
  type SerializeContextOptions,
  serializeContext,
} from './core/context.js';
export {
  type BackendErrorDetails,
  type EntityDetails,
  FlowproofError,
  type FlowproofErrorCode,
  type FlowproofErrorDetails,
  type FlowproofErrorDetailsMap,
  type FlowproofErrorIssue,
  type FlowproofErrorJson,
  type FlowproofErrorOptions,
  isFlowproofError,
  type PipelineStageDetails,
} from './core/errors.js';
export { createId, isId } from './core/ids.js';
export { type Logger, type LogLevel, type LogMethod, silentLogger } from './core/logger.js';
export { configureOpenTelemetry } from './core/opentelemetry.js';
export { utcDateTime } from './core/schemas.js';
export {
  type InferSchemaInput,
  type InferSchemaOutput,
  isStandardSchema,
  parseWithSchema,
  type SchemaValidation,
  type StandardSchemaIssue,
  type StandardSchemaProps,
  type StandardSchemaResult,
  type StandardSchemaV1,
  type ValidationIssue,
  validateWithSchema,
} from './core/standard-schema.js';
export type {
  Migration,
  MigrationReport,
  MigrationSet,
  StorageBackend,
} from './core/storage-backend.js';
export {
  ERROR_CODE_ATTRIBUTE,
  isTracingEnabled,
  type SpanAttributes,
  type SpanHandle,
  withSpan,
} from './core/tracing.js';
