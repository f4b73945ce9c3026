/**
 * Sagas: orchestrated multi-step flows with compensations, retries with backoff, a durable step log and a dead-letter queue.
 *
 * Not implemented yet: this entry is reserved so the package's export map is stable. See the
 * README's module list for status.
 *
 * @module
 */
export {};
