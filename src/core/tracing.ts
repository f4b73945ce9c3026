/**
 * Spans around flowproof operations. With `@opentelemetry/api` installed (and an SDK registered by
 * the application) each operation becomes a span; without it the helpers cost one function call.
 */
import { getContext } from './context.js';
import { isFlowproofError } from './errors.js';
import { getOpenTelemetry, hasTracerProvider } from './opentelemetry.js';
import { assertFunction, assertNonEmptyString, assertOptionsObject } from './options.js';

/** Attribute values OpenTelemetry accepts. */
export type SpanAttributes = Record<string, string | number | boolean>;

/** The handle given to the traced function to annotate its span. */
export interface SpanHandle {
  /** Sets an attribute on the span. */
  setAttribute(key: string, value: string | number | boolean): void;
  /** Records a point-in-time event on the span. */
  addEvent(name: string, attributes?: SpanAttributes): void;
}

const noopSpan: SpanHandle = Object.freeze({ setAttribute() {}, addEvent() {} });

/** Attribute that carries a {@link FlowproofError}'s code on a failed span. */
export const ERROR_CODE_ATTRIBUTE = 'flowproof.error.code';

/**
 * Runs `fn` inside an OpenTelemetry span named `name` (tracer `flowproof`). A thrown error is
 * recorded on the span, which is marked as failed and, for a {@link FlowproofError}, tagged with
 * `flowproof.error.code`; the error is rethrown unchanged. The correlation id of the current flow
 * context is added as `flowproof.correlation_id`.
 *
 * @throws TypeError when `name` is not a non-empty string, `attributes` not an object or `fn` not a
 * function.
 *
 * @example
 * ```ts
 * const order = await withSpan('orders.create', { 'order.items': items.length }, async (span) => {
 *   const created = await createOrder(items);
 *   span.setAttribute('order.id', created.id);
 *   return created;
 * });
 * ```
 */
export function withSpan<T>(
  name: string,
  attributes: SpanAttributes,
  fn: (span: SpanHandle) => Promise<T>,
): Promise<T> {
  assertNonEmptyString(name, 'name');
  assertOptionsObject(attributes, 'attributes');
  assertFunction(fn, 'fn');
  const otel = getOpenTelemetry();
  if (!otel || !hasTracerProvider(otel)) return fn(noopSpan);
  const correlationId = getContext()?.correlationId;
  const spanAttributes = correlationId
    ? { ...attributes, 'flowproof.correlation_id': correlationId }
    : attributes;
  return otel.trace
    .getTracer('flowproof')
    .startActiveSpan(name, { attributes: spanAttributes }, async (span) => {
      try {
        return await fn(span as SpanHandle);
      } catch (error) {
        markSpanFailed(span, error, otel.SpanStatusCode.ERROR);
        throw error;
      } finally {
        span.end();
      }
    });
}

/**
 * True when spans are recorded: `@opentelemetry/api` is installed, not turned off, and an SDK has
 * registered a tracer provider. Hot paths check it to skip building attributes.
 */
export function isTracingEnabled(): boolean {
  const otel = getOpenTelemetry();
  return otel !== undefined && hasTracerProvider(otel);
}

function markSpanFailed(
  span: {
    recordException(e: Error): void;
    setStatus(s: { code: number; message?: string }): unknown;
    setAttribute(k: string, v: string): unknown;
  },
  error: unknown,
  errorStatus: number,
): void {
  const asError = error instanceof Error ? error : new Error(String(error));
  span.recordException(asError);
  span.setStatus({ code: errorStatus, message: asError.message });
  if (isFlowproofError(error)) span.setAttribute(ERROR_CODE_ATTRIBUTE, error.code);
}
