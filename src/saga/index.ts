/**
 * Sagas: durable orchestrated flows with compensations, retries, a dead-letter queue and crash
 * recovery, on your own database (memory, SQLite, PostgreSQL).
 *
 * Define a saga with {@link defineSaga}, run it with {@link createSagas} over a saga store. Each
 * step's intent is recorded before its effect runs and its result in the same write as the next
 * step's intent, fenced by the runner's lease: one storage round trip per step.
 *
 * @module
 */

export { NonRetryableError, type RetryPolicy as SagaRetryPolicy } from '../core/retry-policy.js';
export {
  createSagas,
  type ListSagasOptions,
  type RedrivenSaga,
  type RedriveOptions,
  type RedriveReport,
  type SagaPage,
  type Sagas,
  type SagasOptions,
  type StartedSaga,
  type StartOptions,
} from './create-sagas.js';
export {
  type DefineSagaOptions,
  defineSaga,
  type NoSteps,
  type ParallelGroup,
  type SagaCompensationContext,
  type SagaDefinition,
  type SagaInput,
  type SagaOutputs,
  type SagaStepContext,
  type SagaStepDefinition,
  type SagaStepOptions,
  type SagaTransaction,
  type StepFailurePolicy,
  type StepOutcome,
} from './define-saga.js';
export type {
  SagaAttempt,
  SagaCompensationState,
  SagaErrorRecord,
  SagaFailureRecord,
  SagaState,
  SagaStepState,
  StepLogStatus,
} from './saga-log.js';
export {
  ACTIVE_SAGA_STATUSES,
  type ClaimedSaga,
  type ClaimRequest,
  type CreateSagaResult,
  DEAD_LETTER_STATUSES,
  FINISHED_SAGA_STATUSES,
  type LeaseExtension,
  type NewSaga,
  SAGA_STATUSES,
  SAGA_STORE_COMPONENT,
  type SagaExisted,
  type SagaInserted,
  type SagaLease,
  type SagaListQuery,
  type SagaPurgeRequest,
  type SagaStatus,
  type SagaStore,
  type SagaUpdate,
  type StoredSaga,
  type TransactionalSave,
} from './saga-store.js';
