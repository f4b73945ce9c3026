/**
 * Correlation fields on every log line: a `mixin` for pino (or any logger with the same hook)
 * that adds the flow context's ids to each line logged inside it.
 */
import { getContext } from '../../core/context.js';
import { getOpenTelemetry } from '../../core/opentelemetry.js';
import { assertFunction, assertKnownKeys, assertOptionsObject } from '../../core/options.js';

/**
 * pino's `mixin` option: called for each line with the line's merge object, its level and the
 * logger; its result is merged into the line.
 */
export type LogMixin = (mergeObject: object, level: number, ...rest: never[]) => object;

/** The fields {@link correlationMixin} adds; each only when known. */
export interface CorrelationFields {
  /** The flow context's correlation id. */
  readonly correlationId?: string;
  /** The flow context's causation id. */
  readonly causationId?: string;
  /** The flow context's tenant. */
  readonly tenant?: string;
  /** The trace id: the active OpenTelemetry span's, else the context's `traceparent`'s. */
  readonly traceId?: string;
  /**
   * The active OpenTelemetry span's id; without one, the parent id in the context's
   * `traceparent` (the span of the caller that started this flow).
   */
  readonly spanId?: string;
}

/** Options of {@link correlationMixin}. */
export interface CorrelationMixinOptions {
  /**
   * Your own mixin, called with pino's arguments; its fields are merged in and win on a clash.
   * @default none
   */
  readonly mixin?: LogMixin;
}

const INVALID_TRACE_ID = '0'.repeat(32);

/**
 * A pino `mixin` adding {@link CorrelationFields} to every line logged inside a flow context:
 * correlation id, causation id, tenant, trace id and span id (from the active OpenTelemetry span
 * when there is one, else from the `traceparent` the flow was started with). Outside a context it
 * adds nothing. The actor is left out: it may be personal data.
 *
 * @throws TypeError naming the option when an option is invalid.
 * @example
 * ```ts
 * import pino from 'pino';
 * const logger = pino({ mixin: correlationMixin({ mixin: () => ({ service: 'orders' }) }) });
 * runWithContext({ correlationId: 'c-1' }, () => logger.info('placed'));
 * // {"level":30,…,"correlationId":"c-1","service":"orders","msg":"placed"}
 * ```
 */
export function correlationMixin(
  options: CorrelationMixinOptions = {},
): (mergeObject: object, level: number, ...rest: unknown[]) => CorrelationFields {
  assertOptionsObject(options, 'options');
  assertKnownKeys(options, ['mixin'], 'options');
  const { mixin } = options;
  if (mixin !== undefined) assertFunction(mixin, 'options.mixin');
  return (...args) => {
    const own = mixin === undefined ? {} : (mixin as (...a: unknown[]) => object)(...args);
    return { ...correlationFields(), ...own };
  };
}

/** The correlation fields of the current flow context (empty outside one). */
function correlationFields(): CorrelationFields {
  const context = getContext();
  if (context === undefined) return {};
  const fields: { -readonly [K in keyof CorrelationFields]: CorrelationFields[K] } = {
    correlationId: context.correlationId,
  };
  if (context.causationId !== undefined) fields.causationId = context.causationId;
  if (context.tenant !== undefined) fields.tenant = context.tenant;
  const span = activeSpanIds();
  if (span !== undefined) {
    fields.traceId = span.traceId;
    fields.spanId = span.spanId;
  } else if (context.traceparent !== undefined) {
    const [, traceId, parentId] = context.traceparent.split('-');
    if (traceId !== undefined && parentId !== undefined) {
      fields.traceId = traceId;
      fields.spanId = parentId;
    }
  }
  return fields;
}

/** The ids of OpenTelemetry's active span, when it is installed and has a valid one. */
function activeSpanIds(): { traceId: string; spanId: string } | undefined {
  const otel = getOpenTelemetry();
  if (otel === undefined || typeof otel.trace.getSpan !== 'function') return undefined;
  const ids = otel.trace.getSpan(otel.context.active())?.spanContext();
  return ids === undefined || ids.traceId === INVALID_TRACE_ID ? undefined : ids;
}
