/**
 * A real OpenTelemetry SDK for tests: spans go to an in-memory exporter. Call
 * `useTestTracing()` at the top of a test file; it registers the SDK for the file's tests, clears
 * the exporter before each test and unregisters everything afterwards.
 */
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, beforeEach } from 'vitest';

/** What {@link useTestTracing} gives a test file. */
export interface TestTracing {
  /** Finished spans of the current test. */
  readonly exporter: InMemorySpanExporter;
  /** Registers the tracer provider again (after a test disabled it). */
  registerProvider(): void;
}

/** Registers the SDK around the calling test file; see the module comment. */
export function useTestTracing(): TestTracing {
  const exporter = new InMemorySpanExporter();
  const registerProvider = () => {
    trace.setGlobalTracerProvider(
      new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
    );
  };
  beforeAll(() => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    registerProvider();
  });
  afterAll(() => {
    trace.disable();
    context.disable();
    propagation.disable();
  });
  beforeEach(() => exporter.reset());
  return { exporter, registerProvider };
}
