/**
 * What lineage keeps, as callers read it back: a field's value with its provenance, and the
 * stages of a pipeline run with the fields each one touched.
 */
import type { StageEvent } from '../validation/stage.js';
import type { Provenance } from './provenance.js';

/** A field's recorded value and where it came from. */
export interface FieldLineage {
  /** The record's id (a ULID). */
  readonly id: string;
  /** The entity, e.g. `order:ORD-12345`. */
  readonly entity: string;
  /** The field, e.g. `total`. */
  readonly field: string;
  /** The value recorded. */
  readonly value: unknown;
  /** When it was recorded (ISO-8601 UTC, the store's clock). */
  readonly recordedAt: string;
  /** The correlation id of the flow that recorded it. */
  readonly correlationId: string | undefined;
  /** The causation id of the flow that recorded it. */
  readonly causationId: string | undefined;
  /** The value's provenance tree. */
  readonly provenance: Provenance;
}

/**
 * One stage of a recorded pipeline run: what its `onStage` event said, the error reduced to its
 * code and message (what is kept).
 */
export interface StageLineage
  extends Pick<
    StageEvent,
    | 'stage'
    | 'index'
    | 'kind'
    | 'boundary'
    | 'outcome'
    | 'durationMs'
    | 'fieldsIn'
    | 'fieldsOut'
    | 'fieldsChanged'
    | 'fieldsAdded'
    | 'fieldsDropped'
    | 'fieldsMasked'
  > {
  /** Its error's code and message, when it failed or fell back. */
  readonly error?: {
    /** The error's code. */
    readonly code: string;
    /** The error's message. */
    readonly message: string;
  };
}

/** A recorded run of a validation pipeline. */
export interface PipelineRunLineage {
  /** The record's id (a ULID). */
  readonly id: string;
  /** The pipeline's name. */
  readonly pipeline: string;
  /** The run's id (a UUID). */
  readonly runId: string;
  /** `COMPLETE` when the run produced a value (valid or flagged), `FAIL` otherwise. */
  readonly state: 'COMPLETE' | 'FAIL';
  /** When the first stage started (ISO-8601 UTC). */
  readonly startedAt: string;
  /** When the last stage ended (ISO-8601 UTC). */
  readonly endedAt: string;
  /** The correlation id of the flow that ran it. */
  readonly correlationId: string | undefined;
  /** The causation id of the flow that ran it. */
  readonly causationId: string | undefined;
  /** Its stages, in order, up to the one that ended the run. */
  readonly stages: readonly StageLineage[];
}
