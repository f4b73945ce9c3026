/**
 * The slice of `@opentelemetry/api` flowproof uses, typed structurally so the package compiles and
 * runs without it. OpenTelemetry keeps its registered providers on `globalThis`, so the copy loaded
 * here sees the SDK the application registered, whichever module format either side uses.
 */
import { loadOptionalPeer } from './optional-peer.js';
import { processSingleton } from './process-singleton.js';

/** @internal */
export interface OtelSpan {
  setAttribute(key: string, value: string | number | boolean): unknown;
  addEvent(name: string, attributes?: Record<string, string | number | boolean>): unknown;
  recordException(exception: Error): void;
  setStatus(status: { code: number; message?: string }): unknown;
  end(): void;
}

/** @internal */
export interface OtelApi {
  trace: {
    getTracerProvider(): unknown;
    getTracer(
      name: string,
      version?: string,
    ): {
      startActiveSpan<F extends (span: OtelSpan) => unknown>(
        name: string,
        options: { attributes?: Record<string, string | number | boolean> },
        fn: F,
      ): ReturnType<F>;
    };
    getSpan(context: unknown): { spanContext(): { traceId: string; spanId: string } } | undefined;
  };
  context: {
    active(): unknown;
    with<R>(context: unknown, fn: () => R): R;
  };
  propagation: {
    inject(context: unknown, carrier: Record<string, string>): void;
    extract(context: unknown, carrier: Record<string, string>): unknown;
  };
  SpanStatusCode: { ERROR: number };
  ProxyTracerProvider: new () => { getDelegate(): unknown };
}

// Set once for the process: configuring through the ESM build configures the CommonJS one too.
const settings = processSingleton('opentelemetry.settings', 1, () => ({
  override: undefined as OtelApi | null | undefined,
}));

/**
 * Tells flowproof which `@opentelemetry/api` to use: pass the module, `null` to turn tracing and
 * trace propagation off, or `undefined` to go back to the default. By default flowproof loads
 * `@opentelemetry/api` when it is installed.
 *
 * @example
 * ```ts
 * import * as otel from '@opentelemetry/api';
 * configureOpenTelemetry(otel);
 * ```
 */
export function configureOpenTelemetry(api: unknown): void {
  if (api !== null && api !== undefined && !looksLikeOtelApi(api)) {
    throw new TypeError('api must be the @opentelemetry/api module or null');
  }
  settings.override = api as OtelApi | null | undefined;
}

function looksLikeOtelApi(api: unknown): boolean {
  try {
    return typeof api === 'object' && api !== null && 'trace' in api && 'propagation' in api;
  } catch {
    return false; // a revoked proxy
  }
}

/**
 * @internal True when an OpenTelemetry SDK registered a tracer provider. With only the API
 * installed every span would be a no-op that still costs a context switch, so flowproof skips
 * spans altogether until a provider is registered.
 */
export function hasTracerProvider(otel: OtelApi): boolean {
  const provider = otel.trace.getTracerProvider() as { getDelegate?: () => unknown };
  const delegate = typeof provider.getDelegate === 'function' ? provider.getDelegate() : provider;
  noopProvider ??= new otel.ProxyTracerProvider().getDelegate();
  return delegate !== noopProvider;
}
let noopProvider: unknown;

/** @internal The OpenTelemetry API in use, or undefined when none is installed or it is turned off. */
export function getOpenTelemetry(): OtelApi | undefined {
  const { override } = settings;
  if (override !== undefined) return override ?? undefined;
  return loadOptionalPeer<OtelApi>('@opentelemetry/api');
}
