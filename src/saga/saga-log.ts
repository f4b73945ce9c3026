/**
 * The saga log: the JSON document a saga store keeps per saga (see `saga-store.ts`), and how it is
 * shown to users (`SagaState`). Times in the log are the runner's clock, for the timeline; times
 * that decide anything (due, lease) are the store's.
 */
import type { ErrorRecord } from '../core/error-record.js';
import { encodeJsonResult } from '../idempotency/json-result.js';

import type { StepOutcome } from './define-saga.js';
import { DEAD_LETTER_STATUSES, type SagaStatus, type StoredSaga } from './saga-store.js';

/** An error as recorded in a saga's log: enough to tell what happened, nothing that cannot be JSON. */
export type SagaErrorRecord = ErrorRecord;

/** Why a saga stopped, compensated, or sits in the dead-letter queue. */
export interface SagaFailureRecord extends SagaErrorRecord {
  /** The step concerned, when one is. */
  readonly step?: string;
  /** Whether the step's run or its compensation failed. */
  readonly phase?: 'run' | 'compensate';
}

/** One attempt of a step or a compensation. */
export interface AttemptRecord {
  /** When it started (epoch ms). */
  startedAt: number;
  /** When its outcome was recorded; absent while it runs, or when the runner died during it. */
  endedAt?: number;
  /** Its outcome, once known. */
  outcome?: StepOutcome;
  /** Why it failed. */
  error?: SagaErrorRecord;
}

/** Where a step (or a compensation) is. */
export type StepLogStatus = 'pending' | 'running' | 'waiting' | 'completed' | 'failed';

/** A compensation's record. */
export interface CompensationRecord {
  /** What the step did, as the compensation is told. */
  outcome: StepOutcome;
  /** Where it is. */
  status: StepLogStatus;
  /** Its attempts. */
  attempts: AttemptRecord[];
  /** Attempts before the current retry budget (a redrive starts a new one). */
  budgetFrom?: number;
  /** When a waiting retry is due (epoch ms). */
  retryAt?: number;
}

/** A step's record: written as its intent before its effect runs. */
export interface StepRecord {
  /** The step's name. */
  step: string;
  /** Its position in the definition. */
  index: number;
  /** Its definition hash when it started. */
  hash: string;
  /** Where it is. */
  status: StepLogStatus;
  /** Its attempts, in order. */
  attempts: AttemptRecord[];
  /** Attempts before the current retry budget (a redrive starts a new one). */
  budgetFrom?: number;
  /** When a waiting retry is due (epoch ms). */
  retryAt?: number;
  /** Its output once completed. */
  output?: unknown;
  /** Its compensation, once the saga compensates. */
  compensation?: CompensationRecord;
}

/** The document. */
export interface SagaLog {
  /** The document's format. */
  format: 1;
  /** The saga's input. */
  input: unknown;
  /** Steps in the order they started. */
  steps: StepRecord[];
  /** The step failure that made the saga compensate. */
  failure?: SagaFailureRecord;
  /** Why the saga is in the dead-letter queue. */
  error?: SagaFailureRecord;
  /** The flow context at `start`, as headers. */
  context?: Record<string, string>;
  /** The saga's deadline (epoch ms), when it has a time limit. */
  deadlineAt?: number;
  /** How many times it was redriven. */
  redrives: number;
}

/** One attempt, as shown. */
export interface SagaAttempt {
  /** When it started (UTC ISO-8601). */
  readonly startedAt: string;
  /** How long it took; absent when its outcome is unknown. */
  readonly durationMs?: number;
  /** Its outcome; absent while it runs. */
  readonly outcome?: StepOutcome;
  /** Why it failed. */
  readonly error?: SagaErrorRecord;
}

/** A compensation, as shown. */
export interface SagaCompensationState {
  /** What the step did, as the compensation was told. */
  readonly outcome: StepOutcome;
  /** Where the compensation is. */
  readonly status: StepLogStatus;
  /** Its attempts. */
  readonly attempts: readonly SagaAttempt[];
  /** When a waiting retry is due (UTC ISO-8601). */
  readonly retryAt?: string;
}

/** A step in the timeline. */
export interface SagaStepState {
  /** The step's name. */
  readonly step: string;
  /** Its position in the definition. */
  readonly index: number;
  /** Where it is. */
  readonly status: StepLogStatus;
  /** Its attempts, in order. */
  readonly attempts: readonly SagaAttempt[];
  /** Its output once completed. */
  readonly output?: unknown;
  /** When a waiting retry is due (UTC ISO-8601). */
  readonly retryAt?: string;
  /** Its compensation, if the saga compensated. */
  readonly compensation?: SagaCompensationState;
}

/** A saga as `get`, `list`, `wait` and `run` show it. */
export interface SagaState<Outputs = Record<string, unknown>> {
  /** Its id. */
  readonly id: string;
  /** The definition's name. */
  readonly name: string;
  /** The definition's version that started it. */
  readonly version: number;
  /** Where it is. */
  readonly status: SagaStatus;
  /** Whether it is in the dead-letter queue (`failed` or `compensation_failed`). */
  readonly deadLettered: boolean;
  /** Its input. */
  readonly input: unknown;
  /** The outputs of its steps by name, once `completed`. */
  readonly output?: Outputs;
  /** The step failure that made it compensate. */
  readonly failure?: SagaFailureRecord;
  /** Why it is dead-lettered. */
  readonly error?: SagaFailureRecord;
  /** The steps in the order they started, with attempts and compensations. */
  readonly steps: readonly SagaStepState[];
  /** How many times it was redriven. */
  readonly redrives: number;
  /** When it was started (UTC ISO-8601, store clock). */
  readonly createdAt: string;
  /** When it was last written. */
  readonly updatedAt: string;
  /** When it finished (completed, compensated or dead-lettered); `null` while active. */
  readonly finishedAt: string | null;
}

/** The log of `stored`, as the module wrote it. */
export function logOf(stored: StoredSaga): SagaLog {
  return stored.log as SagaLog;
}

const iso = (ms: number) => new Date(ms).toISOString();

function attemptState(attempt: AttemptRecord): SagaAttempt {
  return {
    startedAt: iso(attempt.startedAt),
    ...(attempt.endedAt !== undefined && attempt.outcome !== 'unknown'
      ? { durationMs: attempt.endedAt - attempt.startedAt }
      : {}),
    ...(attempt.outcome ? { outcome: attempt.outcome } : {}),
    ...(attempt.error ? { error: attempt.error } : {}),
  };
}

/** The user's view of a stored saga. */
export function toSagaState(stored: StoredSaga): SagaState {
  const log = logOf(stored);
  const steps = log.steps.map(
    (record): SagaStepState => ({
      step: record.step,
      index: record.index,
      status: record.status,
      attempts: record.attempts.map(attemptState),
      ...(record.status === 'completed' ? { output: record.output } : {}),
      ...(record.status === 'waiting' && record.retryAt ? { retryAt: iso(record.retryAt) } : {}),
      ...(record.compensation
        ? {
            compensation: {
              outcome: record.compensation.outcome,
              status: record.compensation.status,
              attempts: record.compensation.attempts.map(attemptState),
              ...(record.compensation.status === 'waiting' && record.compensation.retryAt
                ? { retryAt: iso(record.compensation.retryAt) }
                : {}),
            },
          }
        : {}),
    }),
  );
  return {
    id: stored.id,
    name: stored.name,
    version: stored.version,
    status: stored.status,
    deadLettered: DEAD_LETTER_STATUSES.includes(stored.status),
    input: log.input,
    ...(stored.status === 'completed'
      ? { output: Object.fromEntries(log.steps.map((s) => [s.step, s.output])) }
      : {}),
    ...(log.failure ? { failure: log.failure } : {}),
    ...(log.error ? { error: log.error } : {}),
    steps,
    redrives: log.redrives,
    createdAt: iso(stored.createdAt),
    updatedAt: iso(stored.updatedAt),
    finishedAt: stored.finishedAt === null ? null : iso(stored.finishedAt),
  };
}

/**
 * `value` as the log keeps it: its JSON round trip. Refuses (with a `TypeError` saying where) what
 * JSON would change and the NUL character, which PostgreSQL's `jsonb` cannot hold.
 */
export function toLogValue(value: unknown): unknown {
  const text = encodeJsonResult(value);
  if (text.includes('\\u0000')) {
    throw new TypeError(
      'it contains the NUL character (U+0000), which the saga stores cannot keep',
    );
  }
  return JSON.parse(text);
}
