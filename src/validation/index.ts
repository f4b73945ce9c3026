/**
 * Validation pipelines: staged validate / transform / enrich chains where every stage sits at a
 * trust boundary (client, gateway, service, database, external), has its own error policy
 * (reject, fallback and flag for review, dead-letter) and cannot silently lose a field. Also:
 * checking third-party responses, deriving update schemas from create schemas, comparing a schema
 * with a SQL table's columns, and zod helpers for money, quantities, lists and UTC timestamps.
 *
 * @module
 */

export { utcDateTime } from '../core/schemas.js';
// Checking a schema against a table's columns
export {
  assertSchemaMatchesTable,
  type ColumnCheckOptions,
  type ColumnCheckSchema,
  type ColumnMismatch,
  type ColumnMismatchKind,
  checkSchemaAgainstColumns,
} from './check-schema-against-columns.js';
export type { ColumnDefinition, ColumnReader } from './column-reader.js';
// Self-description
export type {
  PipelineDescription,
  SchemaDescription,
  SchemaFieldDescription,
  StageDescription,
} from './describe-pipeline.js';
// The pipeline builder and its results
export {
  type Pipeline,
  type PipelineBuilder,
  type PipelineOptions,
  pipeline,
  type RunOptions,
} from './pipeline.js';
export type {
  PipelineDeadLettered,
  PipelineRejected,
  PipelineResult,
  PipelineSuccess,
} from './pipeline-runner.js';
// Batches and streams
export type {
  BatchItem,
  BatchOptions,
  BatchOutcome,
  BatchReport,
  BatchReportOptions,
} from './run-batch.js';
// Schema helpers
export {
  type MoneyOptions,
  type MoneySchema,
  type MoneyShape,
  money,
  type NonEmptyArrayOptions,
  type NonEmptyArraySchema,
  nonEmptyArray,
  type PositiveQuantityOptions,
  positiveQuantity,
} from './schemas.js';
// Stages
export type {
  Boundary,
  DeadLetter,
  DeadLetterSink,
  ReviewFlag,
  StageContext,
  StageDocs,
  StageErrorPolicy,
  StageEvent,
  StageFailure,
  StageKind,
  StageOptions,
  StageOutcome,
  UnknownKeysPolicy,
  ValidateAtOptions,
  ValidateIntoOptions,
  ValidateOptions,
  WithField,
} from './stage.js';
// Create and update rules
export {
  type UpdateSchema,
  type UpdateSchemaOptions,
  updateSchemaFrom,
} from './update-schema-from.js';
// Third-party responses
export {
  type ExternalResponseOptions,
  IntegrationResponseError,
  validateExternalResponse,
} from './validate-external-response.js';
