/**
 * The transport port: where an OpenLineage emitter sends its events. flowproof ships an HTTP
 * transport (Marquez and compatible backends) and a file transport (NDJSON); anything with a name
 * and a `send` method is a transport of your own (a Kafka producer, a queue).
 */
import type { OpenLineageRunEvent } from './openlineage-event.js';

/**
 * Sends OpenLineage events somewhere.
 *
 * `send` resolves once every event of the batch is delivered, in order. It throws (rejects) when
 * one is not: the emitter retries the whole batch with backoff, unless the error is flowproof's
 * `NonRetryableError` (or p-retry's `AbortError`), which says retrying cannot help (the backend
 * refused the event). Throw a `FlowproofError` of code `LINEAGE_EXPORT_FAILED` (inside the
 * `NonRetryableError` for a refusal) to have its details logged.
 *
 * @example
 * ```ts
 * const kafka: OpenLineageTransport = {
 *   name: 'kafka',
 *   async send(events) {
 *     await producer.send({ topic: 'openlineage', messages: events.map((e) => ({ value: JSON.stringify(e) })) });
 *   },
 * };
 * ```
 */
export interface OpenLineageTransport {
  /** A short name for logs and errors, e.g. `http`, `file`, `kafka`. */
  readonly name: string;
  /** Delivers `events`, in order. */
  send(events: readonly OpenLineageRunEvent[]): Promise<void>;
  /** Releases what the transport holds; called once by the emitter's `close()`. */
  close?(): Promise<void>;
}
