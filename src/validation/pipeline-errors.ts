/**
 * The errors a pipeline stage raises. Every one names the pipeline, the stage and its boundary in
 * `details`, so a failure can be traced to the exact step without reading the message.
 *
 * @internal
 */
import { describeValue, FlowproofError, isFlowproofError } from '../core/errors.js';
import { summariseIssues, type ValidationIssue } from '../core/standard-schema.js';

/** The facts every stage error carries. */
export interface StageIdentity {
  readonly pipeline: string;
  readonly name: string;
  readonly boundary: string;
}

/**
 * A message for anything thrown. Never throws itself: user code can throw values whose conversion
 * to a string fails (`{ toString: 0 }`, a revoked proxy).
 */
export function messageOf(error: unknown): string {
  try {
    return error instanceof Error ? String(error.message) : String(error);
  } catch {
    return `a thrown value (${describeValue(error)})`;
  }
}

function where(stage: StageIdentity): string {
  return `pipeline "${stage.pipeline}", stage "${stage.name}" (${stage.boundary})`;
}

/** `PIPELINE_REJECTED`: the value failed the stage's rules; `details.issues` lists them. */
export function rejectedError(
  stage: StageIdentity,
  issues: readonly ValidationIssue[],
  cause?: unknown,
): FlowproofError {
  return new FlowproofError(
    'PIPELINE_REJECTED',
    `Rejected at ${where(stage)}: ${summariseIssues(issues)}`,
    {
      ...(cause === undefined ? {} : { cause }),
      details: {
        pipeline: stage.pipeline,
        stage: stage.name,
        boundary: stage.boundary,
        issues,
      },
    },
  );
}

/**
 * Wraps an error thrown by user code in a stage. A `VALIDATION_FAILED` error carrying issues (from
 * `parseWithSchema`, say) becomes a `PIPELINE_REJECTED` with those issues; anything else becomes
 * `PIPELINE_STAGE_FAILED` with the error as `cause`.
 */
export function stageError(stage: StageIdentity, error: unknown, during?: string): FlowproofError {
  if (isFlowproofError(error, 'VALIDATION_FAILED') && isIssueList(error.details.issues)) {
    return rejectedError(stage, error.details.issues, error);
  }
  const causeCode = isFlowproofError(error) ? error.code : undefined;
  const message = messageOf(error);
  return new FlowproofError(
    'PIPELINE_STAGE_FAILED',
    `${during ? `The ${during} of ` : ''}${where(stage)} threw: ${message}`,
    {
      cause: error,
      details: {
        pipeline: stage.pipeline,
        stage: stage.name,
        boundary: stage.boundary,
        ...(causeCode === undefined ? {} : { causeCode }),
        ...(during === undefined ? {} : { during }),
      },
    },
  );
}

function isIssueList(value: unknown): value is readonly ValidationIssue[] {
  return (
    Array.isArray(value) &&
    value.length > 0 &&
    value.every(
      (issue: Partial<ValidationIssue> | null) =>
        typeof issue === 'object' &&
        issue !== null &&
        Array.isArray(issue.path) &&
        issue.path.every((key) => typeof key === 'string' || typeof key === 'number') &&
        typeof issue.code === 'string' &&
        typeof issue.message === 'string',
    )
  );
}

/** `PIPELINE_FIELD_LOST`: fields of the stage's input are missing from its output. */
export function fieldLostError(stage: StageIdentity, fields: readonly string[]): FlowproofError {
  return new FlowproofError(
    'PIPELINE_FIELD_LOST',
    `${where(stage)} lost field${fields.length === 1 ? '' : 's'} ${fields.map((f) => `"${f}"`).join(', ')}; declare it in drops or set allowFieldLoss`,
    {
      details: { pipeline: stage.pipeline, stage: stage.name, boundary: stage.boundary, fields },
    },
  );
}

/** `PIPELINE_DEAD_LETTER_FAILED`: the sink threw, so the record is neither processed nor parked. */
export function deadLetterFailedError(
  stage: StageIdentity,
  original: FlowproofError,
  sinkError: unknown,
): FlowproofError {
  const message = messageOf(sinkError);
  return new FlowproofError(
    'PIPELINE_DEAD_LETTER_FAILED',
    `The dead-letter sink failed for a record from ${where(stage)}: ${message}`,
    {
      cause: sinkError,
      details: {
        pipeline: stage.pipeline,
        stage: stage.name,
        boundary: stage.boundary,
        originalCode: original.code,
      },
    },
  );
}
