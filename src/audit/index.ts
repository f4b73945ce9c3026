/**
 * Audit trails: append-only, tamper-evident records of who did what, when, where, why and with what result.
 *
 * Not implemented yet: this entry is reserved so the package's export map is stable. See the
 * README's module list for status.
 *
 * @module
 */
export {};
