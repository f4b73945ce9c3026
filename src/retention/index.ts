/**
 * Retention and erasure: declarative retention policies, legal holds, a map of every place a
 * person's data lives, right-to-erasure requests run as durable flows with a receipt per location,
 * a ledger that re-applies erasures after a backup restore, and batched sweeps.
 *
 * Start with {@link createRetention} over a retention store (memory, SQLite, PostgreSQL), an audit
 * log and a saga store; describe the data with {@link createDataMap} and the rules with
 * {@link parsePolicies} or {@link definePolicies}.
 *
 * @module
 */

// The module.
export {
  createRetention,
  type DueErasures,
  type DurationInput,
  type ErasureHooks,
  type ErasurePlan,
  type ExtendDeadlineOptions,
  type LegalHold,
  type PlaceHoldOptions,
  type PlannedLocation,
  type ReapplyReport,
  type RequestErasureOptions,
  type Retention,
  type RetentionOptions,
} from './create-retention.js';
// Where the data lives.
export {
  createDataMap,
  type DataLocation,
  type DataMap,
  type ErasureContext,
  type ErasureOutcome,
  type LocationAction,
  type LocationKind,
  type PlanErasureOptions,
  type PlannedErasureStep,
  personalFieldsOf,
} from './data-map.js';
// Requests and receipts as reported.
export type {
  DeadlineExtension,
  ErasureLocationReport,
  ErasureOutcomeKind,
  ErasureReceipt,
  ErasureReport,
  ErasureRequest,
} from './erasure-records.js';
export { ERASE_LOCATION_SAGA } from './location-erasure.js';
export { RETENTION_AUDIT_ACTIONS, type RetentionAuditLog } from './retention-audit.js';
// Durations and policies.
export {
  addRetentionDuration,
  isRetentionDuration,
  parseRetentionDuration,
  type RetentionDuration,
  type RetentionPeriod,
  retentionCutoff,
} from './retention-durations.js';
export {
  definePolicies,
  parsePolicies,
  type RetentionPolicies,
  type RetentionPolicy,
} from './retention-policies.js';
// The store port, for adapters and your own stores.
export {
  type CreatedErasureRequest,
  type DeadlineQuery,
  type ErasureLedgerEntry,
  type ErasureLocationRow,
  type ErasureLocationStatus,
  type ErasureRequestPatch,
  type ErasureRequestRow,
  type ErasureStatus,
  type HoldLookup,
  type LegalHoldRow,
  type NewErasureRequest,
  type NewLegalHold,
  OPEN_ERASURE_STATUSES,
  RETENTION_STORE_COMPONENT,
  type RetentionStore,
  type SettledLocation,
} from './retention-store.js';
export {
  type ShreddableEncryption,
  type SubjectKeyLocationOptions,
  subjectKeyLocation,
} from './subject-key-location.js';
// Sweeps.
export {
  type OwnDataPurge,
  ownData,
  type SweepOptions,
  type SweepProgress,
  type SweepReport,
  type SweepTableReport,
  type SweptTable,
} from './sweeper.js';
export { type TableLocationOptions, tableLocation } from './table-location.js';
// The table-sweeper port, for your own engines.
export type {
  SubjectBatchRequest,
  SweepBatchRequest,
  SweepBatchResult,
  SweepKey,
  SweptTableColumns,
  TableSweeper,
} from './table-sweeper.js';
