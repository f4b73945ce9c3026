/**
 * Idempotency: idempotency-key stores with payload fingerprints, leases with fencing tokens, replay of stored results, HTTP Idempotency-Key handling and consumer de-duplication.
 *
 * Not implemented yet: this entry is reserved so the package's export map is stable. See the
 * README's module list for status.
 *
 * @module
 */
export {};
